"""Where a world senior's accuracy and notation come from: per number of operations and per notation.

An evaluation folder holds one ``samples.jsonl`` per label (``tandem_rl/eval/records.py``); on the world's problem
files each record's ``problem_id`` names a row with its ``n_ops``. ``breakdown`` regroups those records by label
and schedule (``solo``, ``handoff_paragraph``, ...)::

    tandem-rl world breakdown runs/demo/eval/paper          # a table per schedule, labels pooled over seeds
    rows = breakdown("runs/demo/eval/paper")
    rows[("grpo", "solo")]["acc_by_ops"][4]                   # GRPO's solo accuracy on 4-operation problems

``notation`` counts responses by ``problems.notation_of`` (plain, jargon, terse, mixed, none). Seeds pooled by
label prefix ``<arm>_s<seed>`` -> ``<arm>`` (plain means over samples; intervals are the evaluation's job).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

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
