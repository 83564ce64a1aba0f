"""``tandem-rl demo``: vanilla GRPO vs tandem RL on the embedded world, evaluated and reported, on a laptop CPU.

From the shipped checkpoints (no downloads, no pre-training), for each seed: train a vanilla GRPO arm
(``rollout.schedule=solo``) and a tandem arm (``rollout.schedule=word``) with the same budget and seed, evaluate both
and the initial senior (solo accuracy, handoff accuracy, legibility, drift, jargon rate, faithfulness), write the HTML
report, and print a Table-2-style summary::

    tandem-rl demo                  # default budget (~15 min on 2 CPU cores)
    tandem-rl demo --quick          # a few minutes: a smoke run, too short to show the effect
    tandem-rl demo --seeds 3        # three seeds per arm, intervals over seeds and problems

Output: ``OUT/runs/{grpo,tandem}_s<seed>/`` (run folders), ``OUT/eval/`` (per-sample records, summaries),
``OUT/report.html``, ``OUT/summary.txt``. The RL settings are ``DEMO_SETTINGS`` below, mirrored in
``configs/demo.yaml`` (docs/world.md: lr 1e-4, 16 prompts x 8, T=1, short responses, token-mean, clip 0.2, no KL).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tandem_rl.config import load_config
from tandem_rl.world.assets import resolve
from tandem_rl.world.problems import INSTRUCTION

ARMS = {"grpo": "solo", "tandem": "word"}  # label -> training schedule (vanilla GRPO is the solo schedule)

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
    "eval": {"benchmarks": ["world:test"], "limit": 100, "n_samples": 4, "temperature": 1.0, "top_p": 1.0,
             "top_k": 0, "max_new_tokens": 32, "handoff_schedules": ["paragraph", "word"],
             "notation_regex": "<<|>>", "step_checker": "tandem_rl.world.steps:check_steps", "report_k": 1,
             "batch_size": 200, "seed": 0,
             # transfer curves on a subset, so that they add at most ~10% to the demo (docs/evaluation.md)
             "metrics": ["solo", "handoff", "legibility", "drift", "transfer"], "transfer_limit": 50,
             "transfer_samples": 2},
}
QUICK = {"train.steps": 12, "eval.limit": 24, "eval.n_samples": 2, "eval.bootstrap": 200}


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
    parser.add_argument("--quick", action="store_true", help="A few-minute smoke run (12 steps, 24 eval problems).")
    parser.add_argument("--seeds", type=int, default=1,
                        help="Seeds per arm (default 1); >1 gives intervals over seeds.")
    parser.add_argument("--seed", type=int, default=0, help="First seed (default 0).")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for evaluation (default 2).")
    parser.add_argument("--jobs", type=int, default=2, help="Arms trained at once, one process each (default 2).")
    parser.add_argument("--config", default=None, help="A YAML in the format of configs/demo.yaml (default: built in).")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides, e.g. train.steps=200.")


def run(args) -> int:
    import torch

    torch.set_num_threads(max(1, args.threads))
    overrides = [f"{k}={v}" for k, v in QUICK.items()] if args.quick else []
    overrides += list(args.overrides)
    out = Path(args.out)
    t0 = time.time()
    summary = run_demo(demo_config(overrides, args.config), out, seeds=range(args.seed, args.seed + args.seeds),
                       jobs=args.jobs)
    text = format_summary(summary, args.seeds)
    text += f"\nwall time: {time.time() - t0:.0f} s; report: {out / 'report.html'}\n"
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


def run_demo(cfg, out: Path, *, seeds=range(1), jobs: int = 2, progress: bool = True) -> dict:
    """Train both arms per seed, evaluate, write the report; returns the evaluation summary.

    ``jobs=2`` trains the two arms of a seed at once, one process and one torch thread each (on 2 cores this beats
    one process with 2 threads: these models are too small to split across threads); the tandem arm shows the bar.
    """
    import dataclasses
    import multiprocessing as mp

    from tandem_rl.eval.runner import evaluate  # torch: imported when needed (a quick --help)
    from tandem_rl.report.page import build_report
    from tandem_rl.train.checkpoint import latest_marker

    out = Path(out)
    seeds = list(seeds)
    seniors, groups, run_dirs = {"initial": cfg.model.senior}, {arm: [] for arm in ARMS}, []
    for seed in seeds:
        batch = []
        for arm, schedule in ARMS.items():
            label = f"{arm}_s{seed}"
            run_cfg = dataclasses.replace(
                cfg, rollout=dataclasses.replace(cfg.rollout, schedule=schedule),
                train=dataclasses.replace(cfg.train, seed=seed, output_dir=str(out / "runs" / label)))
            resume = latest_marker(run_cfg.train.output_dir).exists()  # reruns continue
            if progress:
                print(f"[demo] {label}: rollout.schedule={schedule}, {run_cfg.train.steps} steps"
                      + (" (resuming)" if resume else ""), flush=True)
            batch.append((label, arm, (run_cfg, resume, progress and arm == "tandem", 1 if jobs > 1 else 0)))
        if jobs > 1:
            with mp.get_context("spawn").Pool(min(jobs, len(batch))) as pool:
                dirs = pool.map(_train_arm, [job for *_, job in batch])
        else:
            dirs = [_train_arm((c, r, progress, 0)) for *_, (c, r, _, _) in batch]
        for (label, arm, _), run_dir in zip(batch, dirs):
            run_dirs.append(run_dir)
            seniors[label] = run_dir
            groups[arm].append(label)
    eval_cfg = dataclasses.replace(cfg, eval=dataclasses.replace(
        cfg.eval, seed_groups=groups if len(seeds) > 1 else {}))
    if progress:
        print(f"[demo] evaluating {', '.join(seniors)}", flush=True)
    result = evaluate(eval_cfg, seniors, junior=cfg.model.junior, base=cfg.model.senior, output_dir=out / "eval",
                      progress=progress)
    build_report(run_dirs + [str(out / "eval")], out=out / "report.html")
    return result


ROWS = [  # (column title, metric name in summary.json)
    ("solo", "solo_pass@k"),
    ("handoff step", "handoff_paragraph_pass@k"),
    ("handoff word", "handoff_word_pass@k"),
    ("jargon", "notation_rate"),
    ("junior CE", "legibility_ce"),
    ("transfer AUC", "transfer_tokens_auc"),
    ("KL base", "drift_kl_base"),
    ("faithful", "faithful"),
    ("right+false step", "correct_with_false_step"),
]


def _first(x):
    return x[0] if isinstance(x, list) and x else x


def _cell(metric) -> str:
    """``{"macro": {"value": v, "low": lo, "high": hi}}`` (pass@k metrics hold lists over k: take k = 1)."""
    macro = metric.get("macro", metric) if isinstance(metric, dict) else None
    if not isinstance(macro, dict):
        return "-"
    v, lo, hi = (_first(macro.get(k)) for k in ("value", "low", "high"))
    if not isinstance(v, (int, float)) or v != v:
        return "-"
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
        return f"{v:.2f} [{lo:.2f},{hi:.2f}]"
    return f"{v:.3f}"


def format_summary(result: dict, n_seeds: int = 1) -> str:
    """A plain-text table: one row per evaluated senior (or per arm, averaged over seeds when there are several)."""
    labels = result.get("labels", {})
    rows = {label: s.get("metrics", {}) for label, s in labels.items()}
    if n_seeds > 1:
        groups = result.get("comparison", {}).get("groups", {})
        rows = {"initial": rows.get("initial", {}),
                **{f"{g} (mean of {n_seeds})": m.get("metrics", m) for g, m in groups.items()}}
    head = f"{'model':<22}" + "".join(f"{title:>21}" for title, _ in ROWS)
    lines = [head, "-" * len(head)]
    for label, metrics in rows.items():
        lines.append(f"{label:<22}" + "".join(f"{_cell(metrics.get(name)):>21}" for _, name in ROWS))
    return "\n".join(lines)
