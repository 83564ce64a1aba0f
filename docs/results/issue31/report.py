"""Issue #31: the tables of docs/sweep.md from the three evaluation folders' comparison.json (the project's own
intervals: tandem_rl/eval/summary.py compare), plus the per-step false-result rate of each arm's own evaluation
samples (tandem_rl/world/steps.py check_steps), per notation, on 2-3-operation problems."""
import json
import re
from collections import defaultdict
from pathlib import Path

from tandem_rl.world.steps import check_steps

ARMS = ("grpo", "grpo_plain", "tandem_weak", "tandem_skipjr")
PAIRS = ("grpo_plain - grpo", "tandem_weak - grpo_plain", "tandem_weak - grpo", "tandem_skipjr - tandem_weak",
         "tandem_skipjr - grpo_plain")
KINDS = ("false_step", "copy_error", "answer_differs", "misread", "unchecked", "truncated", "no_answer")
METRICS = (["solo_pass@k", "notation_rate", "faithful", "correct_with_false_step"]
           + [f"solo_error_{k}" for k in KINDS] + ["handoff_paragraph_pass@k", "legibility_ce"])


def first(x):
    return x[0] if isinstance(x, list) else x


def cell(e, scale=100.0, ci=True):
    """A group mean (ci=False: 'mean [low, high]') or a difference ('+d [low, high] mdd m'), in points."""
    if e is None:
        return "-"
    e = e.get("macro", e)  # group means carry levels (macro, per benchmark); differences are flat
    v, lo, hi = (first(e[k]) * scale for k in ("value", "low", "high"))
    mdd = e.get("mdd")
    d = 1 if scale == 100.0 else 2
    out = f"{v:+.{d}f} [{lo:+.{d}f}, {hi:+.{d}f}]" if ci else f"{v:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]"
    return out + (f" mdd {first(mdd) * scale:.{d}f}" if ci and mdd is not None else "")


def table(folder, title):
    comp = json.loads((Path(folder) / "comparison.json").read_text())
    groups, pairs = comp["groups"], comp["group_pairs"]
    print(f"\n## {title} ({folder}); seeds: " + ", ".join(f"{g} {len(groups[g]['seeds'])}" for g in groups))
    print("| metric | " + " | ".join(ARMS) + " | " + " | ".join(PAIRS) + " |")
    print("|---" * (1 + len(ARMS) + len(PAIRS)) + "|")
    for m in METRICS:
        scale = 1.0 if m.startswith("legibility") else 100.0  # nats/token, else points
        row = [cell(groups[a]["metrics"].get(m), scale, ci=False) if a in groups else "-" for a in ARMS]
        row += [cell(pairs.get(p, {}).get(m), scale) for p in PAIRS]
        print(f"| {m} | " + " | ".join(row) + " |")
    print("pairing:", {p: comp["pairing"].get(p, {}).get("paired") for p in PAIRS})


def own_steps(folder, ops=(2, 3)):
    """Per arm and notation: false results / equations written in the solo samples of the evaluation."""
    bench = Path(folder) / "bench"
    n_ops = {}
    for f in bench.glob("*.jsonl"):
        for line in f.read_text().splitlines():
            r = json.loads(line)
            n_ops[f"{f.stem}:{r['id']}"] = r["n_ops"]
    counts = defaultdict(lambda: [0, 0])
    for f in sorted(Path(folder).glob("*/samples.jsonl")):
        arm = re.sub(r"_s\d+$", "", f.parent.name)
        for line in f.read_text().splitlines():
            r = json.loads(line)
            if r["schedule"] != "solo" or n_ops.get(r["problem_id"]) not in ops:
                continue
            for st in check_steps(r["text"]).steps:
                c = counts[(arm, st.notation)]
                c[0] += not st.true
                c[1] += 1
    print(f"\n## own solo samples of the evaluation, {ops} operations: false results / equations written")
    for (arm, notation), (bad, n) in sorted(counts.items()):
        print(f"{arm:<14}{notation:>8}{n:>7} steps  {100 * bad / n:5.2f}% false")


if __name__ == "__main__":
    table("/tmp/c31/eval23", "2-3-operation problems (primary)")
    table("/tmp/c31/eval", "all 100 problems, anatomy with the budget rule")
    table("/tmp/c31/eval_oldrule", "all 100 problems, anatomy without the budget rule (as before issue 31)")
    own_steps("/tmp/c31/eval23")
