"""``tandem-rl demo``: GRPO vs tandem RL in both settings on the embedded world, evaluated and reported, on a CPU.

From the shipped checkpoints (no downloads, no pre-training), for each seed, three arms with the same budget and
seed: vanilla GRPO (``rollout.schedule=solo``), tandem with the frozen self copy (``model.junior=null``: the
paper's setting) and tandem with the weaker world junior (West et al.'s setting). Every senior and the initial one
are then evaluated twice, once per partner (the frozen base; the world junior), at the paper's evaluation decoding
(T 0.7, top_p 0.8, top_k 20); the report opens with the verdict, each claim of each setting read off paired
differences over seeds (``tandem_rl/report/verdict.py``)::

    tandem-rl demo                  # default: 2 seeds per arm (885 s on 2 shared cores, world v2)
    tandem-rl demo --quick          # 1 seed, 12 steps (98 s in CI): a smoke run, too short to show effects
    tandem-rl demo --seeds 3        # three seeds per arm (1884 s on 2 cores shared with another run)

Output: ``OUT/runs/<arm>_s<seed>/`` (run folders), ``OUT/eval/paper/`` and ``OUT/eval/west/`` (one evaluation
folder per setting: per-sample records, summaries that carry ``setting``), ``OUT/report.html``, ``OUT/summary.txt``.
A rerun into the same ``--out`` resumes unfinished arms and reuses finished ones. The RL settings are
``DEMO_SETTINGS`` below, mirrored in ``configs/demo.yaml`` (docs/world.md: lr 1e-4, 16 prompts x 8, T=1, short
responses, token-mean, clip 0.2, no KL).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from tandem_rl.config import load_config
from tandem_rl.errors import UserError
from tandem_rl.eval.records import SAMPLES_FILE, SUMMARY_FILE
from tandem_rl.world.assets import resolve
from tandem_rl.world.demo_progress import EVAL_COST, DemoProgress, Part
from tandem_rl.world.problems import INSTRUCTION

# arm -> training overrides: vanilla GRPO is the solo schedule; tandem_self pairs the senior with a frozen copy of
# its own starting weights (the paper's setting), tandem_weak with the world junior (West et al.'s setting)
ARMS = {"grpo": {"schedule": "solo"},
        "tandem_self": {"schedule": "word", "junior": None},
        "tandem_weak": {"schedule": "word"}}
ARM_COST = {"grpo": 1.0, "tandem_self": 1.5, "tandem_weak": 1.3}  # relative time per step (docs/world.md)
# per setting (report/verdict.py SETTINGS): the partner at evaluation and the metrics measured with it
PARTNER_METRICS = {"base": ["solo", "handoff", "drift"],
                   "junior": ["solo", "handoff", "legibility", "drift", "transfer"]}

# the private notations (jargon annotations, or a terse step: a paragraph that is a lone number): problems.py
NOTATION_REGEX = r"(?m)<<|>>|^ ?\d+ ?$"

# The single source of the demo's settings; configs/demo.yaml holds the same values (a test checks it).
DEMO_SETTINGS = {
    "model": {"senior": "world:senior", "junior": "world:junior", "dtype": "float32", "device": "cpu"},
    "data": {"source": "world:train", "instruction": INSTRUCTION, "max_prompt_tokens": 128},
    "reward": {"answer_format": "boxed", "workers": 1, "timeout_s": 5.0},
    "rollout": {"schedule": "word", "p": 0.5, "max_new_tokens": 32, "temperature": 1.0, "top_p": 1.0, "top_k": 0},
    "grpo": {"group_size": 8, "clip_eps_low": 0.2, "clip_eps_high": 0.2, "loss_agg": "token-mean", "beta": 0.0},
    "train": {"output_dir": "runs/demo/run", "steps": 80, "prompts_per_step": 16, "mini_batches": 2, "lr": 1.0e-4,
              "grad_clip": 1.0, "save_every": 0, "keep_last": 1, "dump_rollouts_every": 10, "loggers": ["jsonl"],
              "seed": 0, "stop_on_collapse": True},
    # the paper's evaluation decoding (T 0.7, top_p 0.8, top_k 20)
    "eval": {"benchmarks": ["world:test"], "limit": 100, "n_samples": 4, "temperature": 0.7, "top_p": 0.8,
             "top_k": 20, "max_new_tokens": 32, "handoff_schedules": ["paragraph", "word"],
             "notation_regex": NOTATION_REGEX, "step_checker": "tandem_rl.world.steps:check_steps", "report_k": 1,
             "batch_size": 200, "seed": 0,
             # transfer curves on a subset, so that they add at most ~10% to the demo (docs/evaluation.md)
             "metrics": ["solo", "handoff", "legibility", "drift", "transfer"], "transfer_limit": 50,
             "transfer_samples": 2},
}
QUICK = {"train.steps": 12, "eval.limit": 24, "eval.n_samples": 2, "eval.bootstrap": 200, "eval.transfer_limit": 12}
DEFAULT_SEEDS = 2


def _world_paths(settings: dict) -> dict:
    """Replace the ``world:train`` / ``world:test`` shorthands with the shipped files' absolute paths."""
    out = json.loads(json.dumps(settings))
    out["data"]["source"] = resolve(out["data"]["source"])
    out["eval"]["benchmarks"] = [resolve(b) for b in out["eval"]["benchmarks"]]
    return out


def demo_config(overrides: list[str] | None = None, config_path: str | None = None):
    """The demo's ``Config`` (``DEMO_SETTINGS``, or a YAML file), with ``key=value`` overrides applied."""
    import tempfile

    import yaml

    if config_path:
        settings = yaml.safe_load(Path(config_path).read_text())
    else:
        settings = DEMO_SETTINGS
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.yaml"
        path.write_text(yaml.safe_dump(_world_paths(settings), sort_keys=False))
        return load_config(path, overrides or [])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/demo", help="Output folder (default runs/demo).")
    parser.add_argument("--quick", action="store_true",
                        help="A smoke run under 3 minutes (1 seed, 12 steps, 24 eval problems).")
    parser.add_argument("--seeds", type=int, default=None,
                        help=f"Seeds per arm (default {DEFAULT_SEEDS}, 1 with --quick); arms share seeds, so "
                             "differences are paired on seeds and problems (docs/evaluation.md). Claims need 5.")
    parser.add_argument("--seed", type=int, default=0, help="First seed (default 0).")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for evaluation (default 2).")
    parser.add_argument("--jobs", type=int, default=2, help="Arms trained (and settings evaluated) at once, one process each "
                             "(default 2).")
    parser.add_argument("--config", default=None, help="A YAML in the format of configs/demo.yaml (default: built in).")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides, e.g. train.steps=200.")


def run(args) -> int:
    import torch

    torch.set_num_threads(max(1, args.threads))
    overrides = [f"{k}={v}" for k, v in QUICK.items()] if args.quick else []
    overrides += list(args.overrides)
    out = Path(args.out)
    n_seeds = args.seeds or (1 if args.quick else DEFAULT_SEEDS)
    t0 = time.time()
    cfg = demo_config(overrides, args.config)
    summary = run_demo(cfg, out, seeds=range(args.seed, args.seed + n_seeds), jobs=args.jobs)
    text = format_summary(summary, k=cfg.eval.report_k, out=out)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text += (f"\nwall time: {time.time() - t0:.0f} s for {n_seeds} seed(s) x {len(ARMS)} arms, {args.jobs} job(s) "
             f"(load average at the end {load:.1f}); report: {out / 'report.html'}\n")
    (out / "summary.txt").write_text(text)
    print(text)
    return 0


def _train_arm(job) -> str:
    """Train one arm (in a worker process when arms run in parallel); returns its run folder."""
    import torch

    from tandem_rl.train.loop import train  # torch: imported when needed (a quick --help)

    from tandem_rl.train.health import Collapsed

    run_cfg, resume, progress, threads = job
    if threads:
        torch.set_num_threads(threads)
    try:
        return str(train(run_cfg, resume=resume, progress=progress))
    except Collapsed as err:  # name the arm: the demo runs several (train.stop_on_collapse is on in the demo)
        raise UserError(f"{run_cfg.train.output_dir}: {err}") from None


def arm_config(cfg, arm: str, seed: int, out: Path):
    """The training config of one arm and seed (``ARMS``), writing to ``OUT/runs/<arm>_s<seed>``."""
    import dataclasses

    spec = ARMS[arm]
    model = dataclasses.replace(cfg.model, junior=spec["junior"]) if "junior" in spec else cfg.model
    return dataclasses.replace(
        cfg, model=model, rollout=dataclasses.replace(cfg.rollout, schedule=spec["schedule"]),
        train=dataclasses.replace(cfg.train, seed=seed, output_dir=str(out / "runs" / f"{arm}_s{seed}")))


def setting_pairs(setting) -> list[str]:
    """The paired differences of one setting: its tandem arm and GRPO against each other and against the initial
    model; never seed against seed, never an arm of the other setting."""
    return [f"{setting.arm} - {setting.baseline}", f"{setting.arm} - initial", f"{setting.baseline} - initial"]


def _evaluate_setting(job) -> dict:
    """Evaluate every senior with one setting's partner (in a worker process when settings run in parallel)."""
    import torch

    from tandem_rl.eval.runner import evaluate

    cfg, seniors, junior, base, out_dir, progress, threads = job
    if threads:
        torch.set_num_threads(threads)
    return evaluate(cfg, seniors, junior=junior, base=base, output_dir=out_dir, progress=progress, reuse=True)


def run_demo(cfg, out: Path, *, seeds=range(1), jobs: int = 2, progress: bool = True) -> dict:
    """Train the three arms per seed, evaluate each senior with both partners, write the report.

    Returns ``{"settings": {name: evaluate()'s result}}``. ``jobs=2`` trains two arms at once, one process and one
    torch thread each (on 2 cores this beats one process with 2 threads: these models are too small to split across
    threads), and evaluates the two settings at once the same way. One bar with an estimate of the time left covers
    the whole demo (``world/demo_progress.py``). A rerun into the same ``out`` resumes unfinished arms and reuses
    finished ones and their evaluations (``_drop_stale_evaluations`` says when an evaluation is not reused).
    """
    from tandem_rl.report.page import build_report
    from tandem_rl.report.verdict import SETTINGS
    from tandem_rl.train.checkpoint import latest_marker

    out = Path(out)
    seniors, groups, batch = {"initial": cfg.model.senior}, {arm: [] for arm in ARMS}, []
    for seed in seeds:
        for arm in ARMS:
            run_cfg = arm_config(cfg, arm, seed, out)
            label = Path(run_cfg.train.output_dir).name
            resume = latest_marker(run_cfg.train.output_dir).exists()  # reruns continue (or reuse a finished arm)
            if progress:
                print(f"[demo] {label}: rollout.schedule={run_cfg.rollout.schedule}, junior="
                      f"{run_cfg.model.junior or 'frozen self copy'}, {run_cfg.train.steps} steps"
                      + (" (resuming)" if resume else ""), flush=True)
            batch.append((label, arm, run_cfg, resume))
            seniors[label] = run_cfg.train.output_dir
            groups[arm].append(label)
    eval_jobs = _evaluation_jobs(cfg, seniors, groups, out, SETTINGS, jobs)
    parts = ([Part(Path(c.train.output_dir) / "metrics.jsonl", ARM_COST[arm], c.train.steps) for _, arm, c, _ in batch]
             + [Part(out / "eval" / s.name / label / SUMMARY_FILE, EVAL_COST[s.partner])
                for s in SETTINGS for label in seniors])
    with DemoProgress(parts, enabled=progress):
        _train_arms(batch, jobs)
        if progress:
            print(f"[demo] evaluating {', '.join(seniors)} with each partner ("
                  + "; ".join(f"{s.name}: {job[2]}" for s, job in zip(SETTINGS, eval_jobs)) + ")", flush=True)
        results = _run_pool(_evaluate_setting, eval_jobs, jobs)
    build_report([str(out / "eval" / s.name) for s in SETTINGS] + [c.train.output_dir for _, _, c, _ in batch],
                 out=out / "report.html", k=cfg.eval.report_k)
    return {"settings": {s.name: r for s, r in zip(SETTINGS, results)}}


def _train_arms(batch, jobs: int) -> None:
    """Train every arm; with ``jobs`` > 1 the longest arms first (self-paired, then the world junior, then GRPO), so
    that the workers end together. Per-arm bars stay off: the demo's one bar reads their metrics instead."""
    order = sorted(batch, key=lambda b: -ARM_COST[b[1]]) if jobs > 1 else batch
    _run_pool(_train_arm, [(c, resume, False, 1 if jobs > 1 else 0) for _, _, c, resume in order], jobs)


def _evaluation_jobs(cfg, seniors: dict, groups: dict, out: Path, settings, jobs: int) -> list[tuple]:
    """One ``_evaluate_setting`` job per setting: every senior with that setting's partner."""
    import dataclasses

    partners = {"base": cfg.model.senior, "junior": cfg.model.junior}
    out_jobs = []
    for setting in settings:
        ec = dataclasses.replace(cfg.eval, setting=setting.name, pairs=setting_pairs(setting),
                                 seed_groups={"initial": ["initial"], **groups},
                                 metrics=PARTNER_METRICS[setting.partner])
        setting_cfg = dataclasses.replace(cfg, eval=ec)
        _drop_stale_evaluations(setting_cfg, seniors, out / "eval" / setting.name)
        out_jobs.append((setting_cfg, seniors, partners[setting.partner], cfg.model.senior,
                         out / "eval" / setting.name, False, 1 if jobs > 1 else 0))
    return out_jobs


def _drop_stale_evaluations(cfg, seniors: dict, folder: Path) -> None:
    """Before a rerun reuses an evaluation folder: drop it whole when it was written under another config, and drop
    a senior's records when its checkpoint is newer than they are (the arm trained on), so nothing stale is read."""
    import shutil

    from tandem_rl.config_io import save_config
    from tandem_rl.train.checkpoint import latest_marker

    saved = folder / "eval_config.yaml"
    if saved.is_file():
        fresh = folder / ".eval_config.now.yaml"
        save_config(cfg, fresh)
        same = _same_config(_records_config(fresh), _records_config(saved))
        fresh.unlink()
        if not same:
            shutil.rmtree(folder)
            return
    for label, path in seniors.items():
        samples, marker = folder / label / SAMPLES_FILE, latest_marker(path)
        if samples.is_file() and marker.exists() and marker.stat().st_mtime > samples.stat().st_mtime:
            shutil.rmtree(folder / label)


def _records_config(path: Path) -> dict:
    """What in a saved evaluation config decides its records: the model, data, reward, rollout and eval sections,
    without the fields that only group records (seed groups, pairs), so a rerun with more seeds reuses the records
    of the seeds it already has. Training and GRPO settings are the runs' business (a newer checkpoint marks those)."""
    import yaml

    saved = yaml.safe_load(path.read_text()) or {}
    for key in ("seed_groups", "pairs"):
        saved.get("eval", {}).pop(key, None)
    return {k: saved.get(k) for k in ("model", "data", "reward", "rollout", "eval")}


def _same_config(a: dict, b: dict) -> bool:
    """Equal on every key both hold (a field that one version of tandem-rl does not know is not a difference)::

        >>> _same_config({"eval": {"top_k": 20, "new": 1}}, {"eval": {"top_k": 20}})
        True
        >>> _same_config({"eval": {"top_k": 20}}, {"eval": {"top_k": 5}})
        False
    """
    if isinstance(a, dict) and isinstance(b, dict):
        return all(_same_config(a[k], b[k]) for k in a.keys() & b.keys())
    return a == b


def _run_pool(fn, job_list: list, jobs: int) -> list:
    """``fn`` over ``job_list`` in ``jobs`` spawned processes (in order, results in order), or here for jobs=1."""
    import multiprocessing as mp

    if jobs <= 1 or len(job_list) <= 1:
        return [fn(job) for job in job_list]
    with mp.get_context("spawn").Pool(min(jobs, len(job_list))) as pool:
        results = pool.map(fn, job_list, chunksize=1)
        pool.close()  # let the workers exit on their own (no terminate(): no leaked semaphores at exit)
        pool.join()
    return results


ROWS = [  # (column title, metric name in summary.json)
    ("solo", "solo_pass@k"),
    ("handoff step", "handoff_paragraph_pass@k"),
    ("handoff word", "handoff_word_pass@k"),
    ("notation", "notation_rate"),
    ("junior CE", "legibility_ce"),
    ("transfer AUC", "transfer_tokens_auc"),
    ("KL base", "drift_kl_base"),
    ("faithful", "faithful"),
    ("right+false step", "correct_with_false_step"),
]


def _pick_k(x, k: int):
    """pass@``k`` of a list over k (clamped), a scalar as it is."""
    return (x[min(k, len(x)) - 1] if x else None) if isinstance(x, list) else x


def _cell(metric, k: int = 1, interval: bool = True) -> str:
    """``{"macro": {"value": v, "low": lo, "high": hi}}`` (pass@k metrics hold lists over k: take pass@``k``);
    ``interval=False``: the value alone (a seed's row under its pooled arm)."""
    macro = metric.get("macro", metric) if isinstance(metric, dict) else None
    if not isinstance(macro, dict):
        return "-"
    v, lo, hi = (_pick_k(macro.get(key), k) for key in ("value", "low", "high"))
    if not isinstance(v, (int, float)) or v != v:
        return "-"
    if interval and isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
        return f"{v:.2f} [{lo:.2f},{hi:.2f}]"
    return f"{v:.3f}"


def arm_rows(result: dict) -> dict[str, dict]:
    """Row name -> metrics: each seed group pooled over its seeds (``initial`` alone), else each label."""
    labels = {label: s.get("metrics", {}) for label, s in result.get("labels", {}).items()}
    groups = result.get("comparison", {}).get("groups", {})
    if not groups:
        return labels
    rows = {}
    for g, entry in groups.items():
        seeds = entry.get("seeds", [])
        name = g if seeds == [g] else f"{g} ({len(seeds)} seed{'s' if len(seeds) != 1 else ''})"
        rows[name] = entry.get("metrics", {})
    return rows


def seed_rows(result: dict) -> dict[str, dict[str, dict]]:
    """Row name (as ``arm_rows``) -> {label: metrics} of the seeds pooled in that row (groups of 2+ seeds)."""
    labels = result.get("labels", {})
    out = {}
    for g, entry in result.get("comparison", {}).get("groups", {}).items():
        seeds = entry.get("seeds", [])
        if len(seeds) > 1:
            out[f"{g} ({len(seeds)} seeds)"] = {lab: labels.get(lab, {}).get("metrics", {}) for lab in seeds}
    return out


def size_view_text(view: dict | None, k: int = 1) -> str:
    """The accuracy on the problem sizes the world can teach (``breakdown.size_view``) as a few terminal lines: each
    arm with its interval and per-seed values, each difference with what it could detect."""
    if not view or not view["arms"]:
        return ""
    lines = [f"solo pass@{k} on the {view['problems']} of {view['of']} problems with at most {view['max_ops']} "
             f"operations (larger ones are not learned within the budget; the overall accuracy cannot exceed "
             f"{view['ceiling']:.2f}):"]
    for arm, est in view["arms"].items():
        seeds = view["seeds"].get(arm, {})
        per = f" (per seed {', '.join(f'{lab} {_pick_k(v, k):.2f}' for lab, v in seeds.items())})" \
            if len(seeds) > 1 else ""
        lines.append(f"  {arm:<24}{_cell(est, k)}{per}")
    for name, est in view["pairs"].items():
        how = "seeds paired" if view["pairing"][name]["paired"] else "seeds unpaired"
        lines.append(f"  {name:<24}{_cell(est, k)} could detect ±{_pick_k(est['mdd'], k):.2f} ({how})")
    return "\n".join(lines)


def format_summary(result: dict, k: int = 1, out: Path | str | None = None) -> str:
    """The verdict (each claim of each setting), then per setting a plain-text table of the arms pooled over seeds
    (pass@``k``, the report's primary k), each pooled arm's seeds on the lines under it, and, with ``out`` (the
    demo's output folder, or the evaluation folder of a single ``evaluate()`` result), the accuracy on the problem
    sizes the world can teach. ``result``: ``run_demo``'s, or one ``evaluate()`` result."""
    from tandem_rl.report.sources import EvalFolder
    from tandem_rl.report.verdict import SETTINGS, verdict_lines, verdict_text
    from tandem_rl.world.breakdown import size_view

    settings = result["settings"] if "settings" in result else {"": result}
    evals = [EvalFolder(Path(name or "."), r.get("labels", {}), r.get("comparison", {}))
             for name, r in settings.items()]
    verdict = verdict_text(verdict_lines(evals, k), k)
    blocks = [f"VERDICT (differences over seeds and problems, 95% t intervals; 'could detect' = the difference "
              f"found with 80% power)\n{verdict}"] if verdict else []
    for name, r in settings.items():
        setting = next((s for s in SETTINGS if s.name == name), None)
        head = f"{'model':<22}" + "".join(f"{title:>21}" for title, _ in ROWS)
        lines = ([f"{setting.title}; partner: {setting.partner_text} (pass@{k})"] if setting else []) + \
            [head, "-" * len(head)]
        per_seed = seed_rows(r)
        for label, metrics in arm_rows(r).items():
            lines.append(f"{label:<22}" + "".join(f"{_cell(metrics.get(m), k):>21}" for _, m in ROWS))
            for seed_label, m in per_seed.get(label, {}).items():
                lines.append(f"  {seed_label:<20}" + "".join(f"{_cell(m.get(x), k, False):>21}" for _, x in ROWS))
        if out is not None:
            folder = Path(out) / "eval" / name if name else Path(out)
            view = size_view_text(size_view(folder, r.get("comparison", {})), k) if folder.is_dir() else ""
            lines += [view] if view else []
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
