"""``tandem-rl sweep``: the accuracy / legibility trade-off of tandem RL's knobs on the embedded world.

A grid of tandem settings (any config keys; by default the handoff probability ``rollout.p``, the solo share of each
group ``grpo.solo_mix`` and the junior's temperature ``rollout.junior_temperature``), each trained from the shipped
senior for every seed with the demo's budget, plus one vanilla GRPO arm per seed shared by all grid points; then one
evaluation of everything (and the initial senior) and the report with its trade-off figure::

    tandem-rl sweep                                          # the grid of configs/sweep.yaml's defaults, 1 seed
    tandem-rl sweep --grid rollout.p=0.25,0.5 --grid grpo.solo_mix=0,0.5 --seeds 2 --out runs/sweep
    tandem-rl sweep --config configs/sweep.yaml --quick      # demo --quick's budget per run

Every run is ``OUT/runs/<label>/`` with label ``<point>_s<seed>`` (``p0.25_mix0.5_jT0.7_s0``) or ``grpo_s<seed>``.
A run that finished holds ``sweep_done.json`` and is skipped by a rerun; one that crashed resumes from its newest
checkpoint (``train.save_every``). Evaluation reuses every label's samples already in ``OUT/eval/``. The grid, its
points and labels are written to ``OUT/sweep.json`` (and ``OUT/eval/sweep.json``, which the report reads).

    >>> points = grid_points({"rollout.p": [0.25, 0.5], "grpo.solo_mix": [0, 0.5]})
    >>> [name for name, _ in points]
    ['p0.25_mix0', 'p0.25_mix0.5', 'p0.5_mix0', 'p0.5_mix0.5']
    >>> points[1][1]
    {'rollout.p': 0.25, 'grpo.solo_mix': 0.5}
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import time
from pathlib import Path

import yaml

from tandem_rl.world.demo import QUICK, demo_config, format_summary

DONE_FILE = "sweep_done.json"
MANIFEST = "sweep.json"
BASELINE = "grpo"  # the vanilla GRPO arm (rollout.schedule=solo), one per seed
DEFAULT_GRID = {"rollout.p": [0.25, 0.5], "grpo.solo_mix": [0, 0.25, 0.5], "rollout.junior_temperature": [0.7, 1.0]}
# Every sweep run checkpoints this often so that a crash loses little (the demo itself saves only at the end); a
# user's overrides come after these, so e.g. train.save_every=40 train.keep_last=0 keeps a learning curve's checkpoints.
SWEEP_OVERRIDES = ["train.save_every=10", "train.keep_last=1"]
SHORT = {"p": "p", "solo_mix": "mix", "junior_temperature": "jT", "junior_top_p": "jtop", "p_end": "pend",
         "beta": "beta", "lr": "lr", "temperature": "T"}  # label abbreviations for common knobs


def _fmt(v) -> str:
    """A value as it appears in a label: floats short, a path by its last part, nothing but [A-Za-z0-9._-]::

        >>> _fmt(0.25), _fmt("/tmp/juniors/weak030"), _fmt("world:junior")
        ('0.25', 'weak030', 'world-junior')
    """
    if isinstance(v, float):
        return f"{v:g}"
    text = str(v).rstrip("/")
    text = text.rsplit("/", 1)[-1] if "/" in text else text  # a label is one folder name under OUT/runs
    return re.sub(r"[^A-Za-z0-9._-]", "-", text)


def grid_points(grid: dict[str, list]) -> list[tuple[str, dict]]:
    """The Cartesian product of ``grid`` (key -> values), in key order, as (name, {key: value}) pairs."""
    if not grid:
        raise ValueError("sweep: the grid is empty; give at least one key with values (e.g. rollout.p=0.25,0.5)")
    for key, values in grid.items():
        if "." not in key:
            raise ValueError(f"sweep grid: key {key!r} is not of the form section.field (e.g. rollout.p)")
        if not isinstance(values, list) or not values:
            raise ValueError(f"sweep grid: {key!r} needs a non-empty list of values, got {values!r}")
    out = []
    for combo in itertools.product(*grid.values()):
        point = dict(zip(grid.keys(), combo))
        name = "_".join(f"{SHORT.get(k.split('.')[-1], k.split('.')[-1])}{_fmt(v)}" for k, v in point.items())
        out.append((name, point))
    names = [n for n, _ in out]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ValueError(f"sweep grid: points {clash} share a label (paths with the same last folder name?); "
                         "give each value a distinct last part")
    return out


def parse_grid_args(items: list[str]) -> dict[str, list]:
    """``["rollout.p=0.25,0.5"]`` -> ``{"rollout.p": [0.25, 0.5]}`` (values parsed as YAML scalars)."""
    grid = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--grid {item!r} is not of the form key=v1,v2 (e.g. rollout.p=0.25,0.5)")
        key, raw = item.split("=", 1)
        grid[key.strip()] = [yaml.safe_load(v) for v in raw.split(",") if v.strip() != ""]
    return grid


def load_sweep_file(path: str) -> dict:
    """configs/sweep.yaml: ``grid`` (key -> list), optional ``seeds``, ``overrides`` (list of key=value), ``base``
    (a YAML in configs/demo.yaml's format; null = the demo's built-in settings)."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    unknown = set(data) - {"grid", "seeds", "overrides", "base"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; allowed: grid, seeds, overrides, base")
    if not isinstance(data.get("grid", {}), dict):
        raise ValueError(f"{path}: 'grid' must map config keys to lists of values")
    return data


def plan(grid: dict, seeds: list[int], overrides: list[str], out: Path, base: str | None = None) -> list[dict]:
    """One job per (seed, arm): the shared GRPO arm first, then every grid point. Each job's config is built (and so
    validated) here, before anything trains."""
    jobs = []
    for seed in seeds:
        arms = [(BASELINE, {"rollout.schedule": "solo"})] + [(n, {"rollout.schedule": "word", **p})
                                                              for n, p in grid_points(grid)]
        for name, point in arms:
            label = f"{name}_s{seed}"
            run_dir = out / "runs" / label
            cfg = demo_config(SWEEP_OVERRIDES + list(overrides) + [f"{k}={json.dumps(v)}" for k, v in point.items()]
                              + [f"train.seed={seed}", f"train.output_dir={run_dir}"], base)
            jobs.append({"label": label, "point": name, "seed": seed, "settings": point, "cfg": cfg,
                         "run_dir": run_dir})
    return jobs


def _train_job(job) -> str:
    """Train (or resume) one run in a worker process, then write its finished marker."""
    import torch

    from tandem_rl.train.checkpoint import latest_marker
    from tandem_rl.train.loop import train  # torch: imported when needed (a quick --help)

    cfg, run_dir, label, settings, threads, progress = job
    if threads:
        torch.set_num_threads(threads)
    resume = latest_marker(run_dir).exists()
    t0 = time.time()
    path = train(cfg, resume=resume, progress=progress)
    (Path(path) / DONE_FILE).write_text(json.dumps({"label": label, "settings": settings, "resumed": resume,
                                                    "seconds": round(time.time() - t0, 1)}) + "\n")
    return label


def run_sweep(grid: dict, out, *, seeds=range(1), overrides: list[str] = (), base: str | None = None,
              jobs: int = 2, progress: bool = True) -> dict:
    """Train every missing run, evaluate every label (reusing finished evaluations), write the report.

    Returns ``{"trained": [labels], "skipped": [labels], "eval": evaluate()'s result}``."""
    import dataclasses
    import multiprocessing as mp

    from tandem_rl.eval.runner import evaluate  # torch: imported when needed (a quick --help)
    from tandem_rl.report.page import build_report

    out, seeds = Path(out), list(seeds)
    todo = plan(grid, seeds, list(overrides), out, base)
    pending = [j for j in todo if not (j["run_dir"] / DONE_FILE).is_file()]
    skipped = [j["label"] for j in todo if j not in pending]
    manifest = {"grid": grid, "seeds": seeds, "overrides": list(overrides), "base": base, "baseline": BASELINE,
                "initial": "initial", "points": {n: p for n, p in grid_points(grid)},
                "labels": {j["label"]: {"point": j["point"], "seed": j["seed"]} for j in todo}}
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    say = (lambda msg: print(f"[sweep {time.strftime('%H:%M:%S')}] {msg}", flush=True)) if progress else (lambda m: 0)
    say(f"{len(todo)} runs ({len(grid_points(grid))} grid points + {BASELINE}, seeds {seeds}); "
        f"{len(skipped)} already done, {len(pending)} to train")
    t0 = time.time()
    args = [(j["cfg"], str(j["run_dir"]), j["label"], j["settings"], 1 if jobs > 1 else 0, False) for j in pending]
    if jobs > 1 and len(pending) > 1:
        with mp.get_context("spawn").Pool(min(jobs, len(pending))) as pool:
            it, done = pool.imap_unordered(_train_job, args), 0
            while done < len(pending):
                try:
                    label = it.next(timeout=60)
                except mp.TimeoutError:  # a status line a minute: steps logged so far by each unfinished run
                    say("steps: " + ", ".join(f"{j['label']} {_steps_logged(j['run_dir'])}/{j['cfg'].train.steps}"
                                              for j in pending if not (j["run_dir"] / DONE_FILE).is_file()))
                    continue
                done += 1
                _eta(say, done, len(pending), t0, label)
    else:
        for i, a in enumerate(args, 1):
            _train_job(a[:-1] + (progress,))
            _eta(say, i, len(pending), t0, a[2])
    cfg = todo[0]["cfg"]
    seniors = {"initial": cfg.model.senior, **{j["label"]: str(j["run_dir"]) for j in todo}}
    groups = {}
    for j in todo:
        groups.setdefault(j["point"], []).append(j["label"])
    eval_cfg = dataclasses.replace(cfg, eval=dataclasses.replace(cfg.eval, seed_groups=groups if len(seeds) > 1
                                                                  else {}))
    say(f"evaluating {len(seniors)} seniors (finished ones are reused)")
    result = evaluate(eval_cfg, seniors, junior=cfg.model.junior, base=cfg.model.senior, output_dir=out / "eval",
                      progress=progress, reuse=True)
    (out / "eval" / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    build_report([str(out / "eval")] + [str(j["run_dir"]) for j in todo], out=out / "report.html")
    say(f"done in {time.time() - t0:.0f} s; report: {out / 'report.html'}")
    return {"trained": [j["label"] for j in pending], "skipped": skipped, "eval": result}


def _steps_logged(run_dir: Path) -> int:
    f = Path(run_dir) / "metrics.jsonl"
    return sum(1 for line in f.read_text().splitlines() if line.strip()) if f.is_file() else 0


def _eta(say, done: int, total: int, t0: float, label: str) -> None:
    per = (time.time() - t0) / done
    say(f"trained {label} ({done}/{total}); {per:.0f} s per run so far, ~{per * (total - done):.0f} s of training left")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="A sweep YAML (format of configs/sweep.yaml).")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                        help="A grid axis, repeatable (e.g. --grid rollout.p=0.25,0.5); replaces the YAML's grid.")
    parser.add_argument("--seeds", type=int, default=None, help="Seeds per arm (default: the YAML's, else 1).")
    parser.add_argument("--seed", type=int, default=0, help="First seed (default 0).")
    parser.add_argument("--out", default="runs/sweep", help="Output folder (default runs/sweep).")
    parser.add_argument("--quick", action="store_true", help="demo --quick's budget per run (12 steps, 24 problems).")
    parser.add_argument("--jobs", type=int, default=2, help="Runs trained at once, one process each (default 2).")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for evaluation (default 2).")
    parser.add_argument("overrides", nargs="*", help="key=value overrides for every run, e.g. train.steps=40.")


def run(args) -> int:
    import torch

    torch.set_num_threads(max(1, args.threads))
    spec = load_sweep_file(args.config) if args.config else {}
    grid = parse_grid_args(args.grid) if args.grid else (spec.get("grid") or DEFAULT_GRID)
    n_seeds = args.seeds if args.seeds is not None else int(spec.get("seeds", 1))
    overrides = list(spec.get("overrides") or [])
    overrides += [f"{k}={v}" for k, v in QUICK.items()] if args.quick else []
    overrides += list(args.overrides)
    out = Path(args.out)
    t0 = time.time()
    result = run_sweep(grid, out, seeds=range(args.seed, args.seed + n_seeds), overrides=overrides,
                       base=spec.get("base"), jobs=args.jobs)
    k = demo_config(overrides, spec.get("base")).eval.report_k  # the report's k (pass@1 for the demo's settings)
    text = format_summary(result["eval"], k=k, out=out / "eval")
    text += f"\nwall time: {time.time() - t0:.0f} s; report: {out / 'report.html'}\n"
    (out / "summary.txt").write_text(text)
    print(text)
    return 0
