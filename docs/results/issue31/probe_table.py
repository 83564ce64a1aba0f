"""Issue #31: the calibrated probe's table from /tmp/c31/probe/*.json (tandem-rl world arithmetic --json): per arm,
means over seeds of teacher forcing (T 0.7 without truncation; the evaluation's decoding) and of the false-result
rate on the model's own solo samples at that decoding, per notation; per seed in brackets."""
import json, re
from collections import defaultdict
from pathlib import Path

rows = defaultdict(lambda: defaultdict(list))
acc = defaultdict(list)
for f in sorted(Path("/tmp/c31/probe").glob("*.json")):
    for key, r in json.loads(f.read_text()).items():
        label, part = key.split(" | ")
        arm = re.sub(r"_s\d+$", "", label)
        if part == "solo samples":
            acc[arm].append(r)
        else:
            rows[(arm, part)]["t07"].append(r["error_t07"])
            rows[(arm, part)]["eval"].append(r["error_eval"])
            rows[(arm, part)]["own"].append(r.get("own_error"))
            rows[(arm, part)]["own_n"].append(r.get("own_steps", 0))
pct = lambda xs: " / ".join("-" if x is None or x != x else f"{100 * x:.1f}" for x in xs)
mean = lambda xs: (sum(x for x in xs if x == x and x is not None) / max(1, sum(1 for x in xs if x == x and x is not None)))
print("| arm | notation | seeds | TF T 0.7 (no top_p/top_k) | TF at the eval decoding | own samples at the eval decoding (steps) |")
print("|---|---|---|---|---|---|")
for (arm, part), r in sorted(rows.items()):
    print(f"| {arm} | {part} | {len(r['t07'])} | {100 * mean(r['t07']):.1f}% ({pct(r['t07'])}) | "
          f"{100 * mean(r['eval']):.1f}% ({pct(r['eval'])}) | {100 * mean(r['own']):.1f}% ({pct(r['own'])}; "
          f"{sum(r['own_n'])} steps) |")
print()
for arm, rs in sorted(acc.items()):
    by = defaultdict(list)
    for r in rs:
        for k, v in r["acc_by_ops"].items():
            by[k].append(v)
    print(f"{arm}: own solo accuracy, mean over {len(rs)} seeds: " + ", ".join(f"{k} ops {mean(v):.3f}" for k, v in sorted(by.items())))

# paired over training seeds (seed s of one arm with seed s of the other): per-step false-result rate of the
# models' own samples at the evaluation's decoding, and teacher forcing at that decoding; t interval over seeds
import numpy as np
from scipy import stats

per = defaultdict(dict)  # (arm, notation, key) -> {seed: value}
for f in sorted(Path("/tmp/c31/probe").glob("*.json")):
    for key, r in json.loads(f.read_text()).items():
        label, part = key.split(" | ")
        m = re.match(r"(.*)_s(\d+)$", label)
        if not m or part == "solo samples":
            continue
        for k in ("own_error", "error_eval"):
            per[(m.group(1), part, k)][int(m.group(2))] = r.get(k)
print("\npaired over seeds (t interval, 95%), percentage points per step:")
for (a, na), (b, nb) in [(("grpo_plain", "plain"), ("grpo", "jargon")), (("tandem_weak", "plain"), ("grpo_plain", "plain")),
                         (("tandem_skipjr", "plain"), ("tandem_weak", "plain")), (("tandem_skipjr", "plain"), ("grpo_plain", "plain"))]:
    for k in ("own_error", "error_eval"):
        x, y = per[(a, na, k)], per[(b, nb, k)]
        seeds = sorted(set(x) & set(y))
        d = np.array([100 * (x[s] - y[s]) for s in seeds])
        if len(d) < 2:
            continue
        h = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
        print(f"{a} {na} - {b} {nb} [{k}]: {d.mean():+.1f} [{d.mean() - h:+.1f}, {d.mean() + h:+.1f}] (seeds {seeds}; per seed "
              + " / ".join(f"{v:+.1f}" for v in d) + ")")
