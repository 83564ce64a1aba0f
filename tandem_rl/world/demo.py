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
from tandem_rl.world.assets import resolve
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
              "seed": 0},
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
                        help=f"Seeds per arm (default {DEFAULT_SEEDS}, 1 with --quick); intervals resample seeds "
                             "and problems.")
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
    text = format_summary(summary, k=cfg.eval.report_k)
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

    run_cfg, resume, progress, threads = job
    if threads:
        torch.set_num_threads(threads)
    return str(train(run_cfg, resume=resume, progress=progress))


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
    return evaluate(cfg, seniors, junior=junior, base=base, output_dir=out_dir, progress=progress)


def run_demo(cfg, out: Path, *, seeds=range(1), jobs: int = 2, progress: bool = True) -> dict:
    """Train the three arms per seed, evaluate each senior with both partners, write the report.

    Returns ``{"settings": {name: evaluate()'s result}}``. ``jobs=2`` trains two arms at once, one process and one
    torch thread each (on 2 cores this beats one process with 2 threads: these models are too small to split across
    threads), and evaluates the two settings at once the same way.
    """
    import dataclasses
    import multiprocessing as mp

    from tandem_rl.report.page import build_report
    from tandem_rl.report.verdict import SETTINGS
    from tandem_rl.train.checkpoint import latest_marker

    out = Path(out)
    seeds = list(seeds)
    seniors, groups, run_dirs, batch = {"initial": cfg.model.senior}, {arm: [] for arm in ARMS}, [], []
    for seed in seeds:
        for arm in ARMS:
            run_cfg = arm_config(cfg, arm, seed, out)
            label = Path(run_cfg.train.output_dir).name
            resume = latest_marker(run_cfg.train.output_dir).exists()  # reruns continue (or reuse a finished arm)
            if progress:
                print(f"[demo] {label}: rollout.schedule={run_cfg.rollout.schedule}, junior="
                      f"{run_cfg.model.junior or 'frozen self copy'}, {run_cfg.train.steps} steps"
                      + (" (resuming)" if resume else ""), flush=True)
            batch.append((label, arm, (run_cfg, resume, progress, 1 if jobs > 1 else 0)))
    if jobs > 1:  # the longest arms first (self-paired, then the world junior, then GRPO): the workers end together
        order = sorted(range(len(batch)), key=lambda i: -ARM_COST[batch[i][1]])
        jobs_in_order = [batch[i][2] for i in order]
        jobs_in_order = [(c, r, progress and n == 0, t) for n, (c, r, _, t) in enumerate(jobs_in_order)]
        with mp.get_context("spawn").Pool(min(jobs, len(batch))) as pool:
            done = pool.map(_train_arm, jobs_in_order, chunksize=1)
            pool.close()  # let the workers exit on their own (no terminate(): no leaked semaphores at exit)
            pool.join()
        dirs = [done[order.index(i)] for i in range(len(batch))]
    else:
        dirs = [_train_arm((c, r, progress, 0)) for *_, (c, r, _, _) in batch]
    for (label, arm, _), run_dir in zip(batch, dirs):
        run_dirs.append(run_dir)
        seniors[label] = run_dir
        groups[arm].append(label)
    partners = {"base": cfg.model.senior, "junior": cfg.model.junior}
    jobs_eval = []
    for setting in SETTINGS:
        ec = dataclasses.replace(cfg.eval, setting=setting.name, pairs=setting_pairs(setting),
                                 seed_groups={"initial": ["initial"], **groups},
                                 metrics=PARTNER_METRICS[setting.partner])
        jobs_eval.append((dataclasses.replace(cfg, eval=ec), seniors, partners[setting.partner], cfg.model.senior,
                          out / "eval" / setting.name, progress and not jobs_eval, 1 if jobs > 1 else 0))
        if progress:
            print(f"[demo] evaluating {', '.join(seniors)} in the {setting.name} setting (partner: "
                  f"{partners[setting.partner]})", flush=True)
    if jobs > 1:
        with mp.get_context("spawn").Pool(min(jobs, len(jobs_eval))) as pool:
            results = pool.map(_evaluate_setting, jobs_eval, chunksize=1)
            pool.close()
            pool.join()
    else:
        results = [_evaluate_setting(job) for job in jobs_eval]
    build_report([str(out / "eval" / s.name) for s in SETTINGS] + run_dirs, out=out / "report.html",
                 k=cfg.eval.report_k)
    return {"settings": {s.name: r for s, r in zip(SETTINGS, results)}}


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


def _cell(metric, k: int = 1) -> str:
    """``{"macro": {"value": v, "low": lo, "high": hi}}`` (pass@k metrics hold lists over k: take pass@``k``)."""
    macro = metric.get("macro", metric) if isinstance(metric, dict) else None
    if not isinstance(macro, dict):
        return "-"

    def pick(x):
        return (x[min(k, len(x)) - 1] if x else None) if isinstance(x, list) else x

    v, lo, hi = (pick(macro.get(key)) for key in ("value", "low", "high"))
    if not isinstance(v, (int, float)) or v != v:
        return "-"
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
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


def format_summary(result: dict, k: int = 1) -> str:
    """The verdict (each claim of each setting), then per setting a plain-text table of the arms pooled over seeds
    (pass@``k``, the report's primary k). ``result``: ``run_demo``'s, or one ``evaluate()`` result."""
    from tandem_rl.report.sources import EvalFolder
    from tandem_rl.report.verdict import SETTINGS, verdict_lines, verdict_text

    settings = result["settings"] if "settings" in result else {"": result}
    evals = [EvalFolder(Path(name or "."), r.get("labels", {}), r.get("comparison", {}))
             for name, r in settings.items()]
    verdict = verdict_text(verdict_lines(evals, k), k)
    blocks = [f"VERDICT (paired differences over seeds and problems, 95% intervals)\n{verdict}"] if verdict else []
    for name, r in settings.items():
        setting = next((s for s in SETTINGS if s.name == name), None)
        head = f"{'model':<22}" + "".join(f"{title:>21}" for title, _ in ROWS)
        lines = ([f"{setting.title}; partner: {setting.partner_text} (pass@{k})"] if setting else []) + \
            [head, "-" * len(head)]
        for label, metrics in arm_rows(r).items():
            lines.append(f"{label:<22}" + "".join(f"{_cell(metrics.get(m), k):>21}" for _, m in ROWS))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
