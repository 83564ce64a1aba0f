"""Where a world senior's accuracy and notation come from: per number of operations and per notation.

An evaluation folder holds one ``samples.jsonl`` per label (``tandem_rl/eval/records.py``); on the world's problem
files each record's ``problem_id`` names a row with its ``n_ops``. ``breakdown`` regroups those records by label
and schedule (``solo``, ``handoff_paragraph``, ...)::

    tandem-rl world breakdown runs/demo/eval/paper          # a table per schedule, labels pooled over seeds
    rows = breakdown("runs/demo/eval/paper")
    rows[("grpo", "solo")]["acc_by_ops"][4]                   # GRPO's solo accuracy on 4-operation problems

``notation`` counts responses by ``problems.notation_of`` (plain, jargon, terse, mixed, none). Seeds pooled by
label prefix ``<arm>_s<seed>`` -> ``<arm>`` (plain means over samples; intervals are the evaluation's job).

``size_view`` is the accuracy on the problem sizes the world can teach: solo pass@k on the problems with at most
``max_ops`` operations (4-operation solutions do not fit the demo's 32-token budget, so no arm learns them), with the
evaluation's intervals (seed groups: t over seeds and problems; differences paired by seed where the arms share
them) and the ceiling those problems put on the overall accuracy::

    view = size_view("runs/demo/eval/west", comparison)     # comparison.json of that folder
    view["ceiling"], view["arms"]["grpo"]["value"][0]          # e.g. 0.53 and GRPO's pass@1 on 2-3 operations
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from tandem_rl.eval.bootstrap import arm_estimate, bootstrap, compare_arms
from tandem_rl.eval.records import SampleRecord, read_jsonl
from tandem_rl.eval.summary import label_metrics, seed_pairing
from tandem_rl.world.assets import problems_file
from tandem_rl.world.problems import notation_of

NOTATION_NAMES = ("plain", "jargon", "terse", "mixed", "none")


def _rows_by_id(files) -> dict[str, dict]:
    out = {}
    for f in files:
        for line in Path(f).read_text().splitlines():
            row = json.loads(line)
            out[row["id"]] = row
    return out


def _benchmark_files(eval_dir: Path) -> list:
    """The problem files the evaluation read (its eval_config.yaml), else the shipped world files."""
    import yaml

    cfg_file = eval_dir / "eval_config.yaml"
    if cfg_file.exists():
        files = (yaml.safe_load(cfg_file.read_text()).get("eval") or {}).get("benchmarks") or []
        files = [f for f in files if str(f).endswith(".jsonl") and Path(f).exists()]
        if files:
            return files
    return [problems_file("test"), problems_file("train")]


def _arm(label: str) -> str:
    return re.sub(r"_s\d+$", "", label)


def breakdown(eval_dir, problem_files=None, pool_seeds: bool = True) -> dict[tuple[str, str], dict]:
    """``{(label or arm, schedule): {"n", "acc", "acc_by_ops": {k: acc}, "n_by_ops", "notation": {name: share},
    "acc_by_notation": {name: acc}}}`` over every ``samples.jsonl`` under ``eval_dir``."""
    eval_dir = Path(eval_dir)
    problems = _rows_by_id(problem_files or _benchmark_files(eval_dir))
    cells = defaultdict(list)
    files = sorted(eval_dir.glob("*/samples.jsonl"))
    if not files:
        raise FileNotFoundError(f"{eval_dir}: no <label>/samples.jsonl (is this a `tandem-rl eval` output folder?)")
    for f in files:
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            row = problems.get(rec["problem_id"].split(":", 1)[-1])
            # fail closed: ids repeat across world versions, so a rewritten problem file must not relabel records
            if row is not None and rec.get("gold") not in (None, "") and str(row["answer"]) != str(rec["gold"]):
                raise ValueError(f"{f}: problem {rec['problem_id']} has gold {rec.get('gold')!r} but the problem "
                                 f"file says {row['answer']!r}: the file changed since this evaluation; pass the "
                                 "file it used (problem_files=...)")
            key = (_arm(rec["label"]) if pool_seeds else rec["label"], rec["schedule"])
            cells[key].append((int(row["n_ops"]) if row else None, float(rec.get("reward") or 0.0) == 1.0,
                               notation_of(rec["text"])))
    out = {}
    for key, rows in sorted(cells.items()):
        by_ops, by_not = defaultdict(list), defaultdict(list)
        for k, ok, nota in rows:
            by_ops[k].append(ok)
            by_not[nota].append(ok)
        counts = Counter(nota for *_, nota in rows)
        out[key] = {"n": len(rows), "acc": sum(ok for _, ok, _ in rows) / len(rows),
                    "acc_by_ops": {k: sum(v) / len(v) for k, v in sorted(by_ops.items(), key=lambda kv: str(kv[0]))},
                    "n_by_ops": {k: len(v) for k, v in by_ops.items()},
                    "notation": {name: counts[name] / len(rows) for name in NOTATION_NAMES},
                    "acc_by_notation": {name: sum(v) / len(v) for name, v in by_not.items()}}
    return out


def format_breakdown(rows: dict) -> str:
    """One plain-text table per schedule: accuracy overall and per number of operations, notation shares."""
    blocks = []
    for schedule in sorted({s for _, s in rows}):
        keys = [k for k in rows if k[1] == schedule]
        ops = sorted({o for k in keys for o in rows[k]["acc_by_ops"] if o is not None})
        head = f"{'model':<16}{'n':>6}{'acc':>7}" + "".join(f"{f'{o} ops':>8}" for o in ops) + \
            "".join(f"{name:>8}" for name in NOTATION_NAMES)
        lines = [f"schedule {schedule} (accuracy; share of responses per notation)", head, "-" * len(head)]
        for k in keys:
            r = rows[k]
            lines.append(f"{k[0]:<16}{r['n']:>6}{r['acc']:>7.3f}"
                         + "".join(f"{r['acc_by_ops'].get(o, float('nan')):>8.3f}" for o in ops)
                         + "".join(f"{r['notation'][name]:>8.3f}" for name in NOTATION_NAMES))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def problem_sizes(eval_dir, problem_files=None) -> dict[str, int]:
    """Problem id -> number of operations, for the problem files the evaluation read (rows with ``n_ops``)."""
    rows = _rows_by_id(problem_files or _benchmark_files(Path(eval_dir)))
    return {pid: int(row["n_ops"]) for pid, row in rows.items() if "n_ops" in row}


def _view_arms(comparison: dict, labels: list[str]) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Arms (seed groups, else labels) and the differences the evaluation computed between them."""
    groups = {g: e.get("seeds", []) for g, e in comparison.get("groups", {}).items()}
    if groups:
        return groups, [tuple(p.split(" - ", 1)) for p in comparison.get("group_pairs", {})]
    return {lab: [lab] for lab in labels}, [tuple(p.split(" - ", 1)) for p in comparison.get("pairs", {})]


def size_view(eval_dir, comparison: dict, *, max_ops: int = 3, problem_files=None, confidence: float = 0.95,
              resamples: int = 1000, seed: int = 0) -> dict | None:
    """Solo pass@k on the problems with at most ``max_ops`` operations: ``{"max_ops", "problems", "of", "ceiling",
    "arms": {arm: est}, "seeds": {arm: {label: pass@k}}, "pairs": {"a - b": est}, "pairing": {...}}``; None when
    the evaluated problems carry no sizes or none is that small."""
    eval_dir = Path(eval_dir)
    sizes = problem_sizes(eval_dir, problem_files)
    labels = sorted(p.parent.name for p in eval_dir.glob("*/samples.jsonl"))
    metrics = {}
    for label in labels:
        m = label_metrics(read_jsonl(eval_dir / label / "samples.jsonl", SampleRecord), where=label)
        if "solo_pass@k" in m:
            metrics[label] = m["solo_pass@k"]
    if not metrics or not sizes:
        return None
    first = next(iter(metrics.values()))
    keep = {b: [p for p in ids if sizes.get(p.split(":", 1)[-1], max_ops + 1) <= max_ops]
            for b, ids in first.ids.items()}
    n_in, n_all = sum(map(len, keep.values())), sum(map(len, first.ids.values()))
    if n_in == 0:
        return None
    view = {lab: m.reindex(keep) for lab, m in metrics.items()}
    arms, pairs = _view_arms(comparison, list(view))
    out = {"max_ops": max_ops, "problems": n_in, "of": n_all, "ceiling": n_in / n_all, "arms": {}, "seeds": {},
           "pairs": {}, "pairing": {}}
    for arm, seeds in arms.items():
        if all(lab in view for lab in seeds) and seeds:
            ms = [view[lab] for lab in seeds]
            out["arms"][arm] = (arm_estimate(ms, confidence=confidence) if len(ms) > 1 else
                                bootstrap([ms], resamples=resamples, seed=seed, confidence=confidence)).to_dict()
            out["seeds"][arm] = {lab: m.macro_value().tolist() for lab, m in zip(seeds, ms)}
    for a, b in pairs:
        if a in out["arms"] and b in out["arms"]:
            pairing = seed_pairing(arms[a], arms[b])
            out["pairing"][f"{a} - {b}"] = pairing
            out["pairs"][f"{a} - {b}"] = compare_arms([view[x] for x in arms[a]], [view[x] for x in arms[b]],
                                                      paired=pairing["paired"], confidence=confidence).to_dict()
    return out
