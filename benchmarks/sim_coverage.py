"""How often the seed-group comparison cries wolf: false positives on identical arms, and power, by simulation.

The setting of issue #29 (the demo's evaluation): 100 problems x 4 samples, 47% of them unsolvable, per-seed shifts
of the true accuracy with SD 2.5-3.5 points. Two *identical* arms (same problems, same solve chances, independent
seeds) go through ``tandem_rl.eval.bootstrap.compare_arms`` as the report uses it (seeds paired by position, as the
demo's arms share their training seeds); a replicate is a false positive when the 95% interval excludes zero. Then
arm a gets a true +8-point accuracy advantage and the share of intervals above zero is the power::

    python benchmarks/sim_coverage.py                      # 2000 replicates per cell (~1-2 min on one core)
    python benchmarks/sim_coverage.py --replicates 500 --old   # also the old percentile bootstrap (slow)
    python benchmarks/sim_coverage.py --smoke              # 100 replicates: the script runs, numbers mean little

Model per replicate: problem i has solve chance 0 (47 of them) or p_i ~ Beta(4, 1); each arm-seed shifts the
solvable problems' logits by c ~ N(0, tau), tau chosen so that the accuracy moves by the stated SD (slope
0.53 x mean p(1 - p)); ``--interaction`` adds independent N(0, rho) logit noise per (seed, problem). Each problem's
pass@1 is Binomial(4, p) / 4. Monte-Carlo error of a rate r over n replicates: sqrt(r (1 - r) / n), printed.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from tandem_rl.eval.bootstrap import Metric, arm_estimate, bootstrap, compare_arms

PROBLEMS, UNSOLVABLE, SAMPLES = 100, 47, 4
IDS = {"world": [f"p{i}" for i in range(PROBLEMS)]}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p):
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _lift(p: np.ndarray, gain: float) -> float:
    """The logit shift of the solvable problems that raises the mean accuracy by ``gain`` (bisection)."""
    lo, hi, target = 0.0, 20.0, p.mean() + gain
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.mean(np.where(p > 0, _sigmoid(_logit(p) + mid), 0.0)) < target else (lo, mid)
    return (lo + hi) / 2


def replicate(rng: np.random.Generator, seeds: int, sd: float, gain: float = 0.0, rho: float = 0.0):
    """Per-seed Metric lists of arms a and b (b identical to a in truth, a ``gain`` better in accuracy)."""
    p = np.zeros(PROBLEMS)
    p[UNSOLVABLE:] = rng.beta(4.0, 1.0, size=PROBLEMS - UNSOLVABLE)
    rng.shuffle(p)
    tau = sd / max(np.sum(p * (1 - p)) / PROBLEMS, 1e-6)
    base = {"a": _logit(p) + (_lift(p, gain) if gain else 0.0), "b": _logit(p)}
    arms = {}
    for arm, logits in base.items():
        shifts = rng.normal(0.0, tau, size=(seeds, 1)) + rng.normal(0.0, rho, size=(seeds, PROBLEMS))
        chance = np.where(p > 0, _sigmoid(logits + shifts), 0.0)
        hits = rng.binomial(SAMPLES, chance) / SAMPLES  # [S, P]
        arms[arm] = [Metric.mean_of({"world": row}, IDS) for row in hits]
    return arms["a"], arms["b"]


def rate(rng, n: int, seeds: int, sd: float, *, gain: float = 0.0, rho: float = 0.0, paired: bool = True,
         old: bool = False) -> tuple[float, float]:
    """(share of replicates whose interval excludes zero (gain 0) or lies above it (gain > 0), mean half-width)."""
    hits, widths = 0, []
    for r in range(n):
        a, b = replicate(rng, seeds, sd, gain, rho)
        if old:
            est = bootstrap([a, b], np.subtract, resamples=200, seed=r)
        else:
            est = compare_arms(a, b, paired=paired)
        hits += (est.low > 0) if gain else (est.low > 0 or est.high < 0)
        widths.append((est.high - est.low) / 2)
    return hits / n, float(np.mean(widths))


def arm_coverage(rng, n: int, seeds: int, sd: float) -> tuple[float, float]:
    """(share of ``arm_estimate`` intervals that hold the arm's population accuracy, mean half-width): problems drawn
    afresh per replicate, the logit SD fixed from the population slope 0.53 x E[p(1 - p)] = 0.53 x 2/15."""
    tau = sd / (0.53 * 2 / 15)
    big = rng.beta(4.0, 1.0, size=1_000_000)
    truth = 0.53 * np.mean(_sigmoid(_logit(big) + rng.normal(0.0, tau, size=big.size)))
    hits, widths = 0, []
    for _ in range(n):
        p = np.zeros(PROBLEMS)
        p[UNSOLVABLE:] = rng.beta(4.0, 1.0, size=PROBLEMS - UNSOLVABLE)
        chance = np.where(p > 0, _sigmoid(_logit(p) + rng.normal(0.0, tau, size=(seeds, 1))), 0.0)
        est = arm_estimate([Metric.mean_of({"world": row}, IDS) for row in rng.binomial(SAMPLES, chance) / SAMPLES])
        hits += est.low <= truth <= est.high
        widths.append((est.high - est.low) / 2)
    return hits / n, float(np.mean(widths))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicates", type=int, default=2000)
    ap.add_argument("--smoke", action="store_true", help="100 replicates per cell")
    ap.add_argument("--interaction", type=float, default=0.0, help="per (seed, problem) logit noise SD")
    ap.add_argument("--old", action="store_true", help="also the old percentile bootstrap (200 resamples)")
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args(argv)
    n = 100 if args.smoke else args.replicates
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    print(f"identical arms, 100 problems x 4 samples, 47 unsolvable; {n} replicates per cell; 95% intervals")
    for paired in (True, False):
        for seeds in (2, 3, 5):
            for sd in (0.025, 0.035):
                fpr, hw = rate(rng, n, seeds, sd, rho=args.interaction, paired=paired)
                mc = math.sqrt(max(fpr * (1 - fpr), 0.05 * 0.95) / n)
                print(f"{'paired' if paired else 'unpaired':>8} seeds {seeds} seed SD {sd * 100:.1f} pts: "
                      f"false positives {fpr * 100:5.2f}% (MC +-{mc * 100:.2f}), mean half-width {hw * 100:5.1f} pts")
    for sd in (0.025, 0.035):
        power, hw = rate(rng, n, 5, sd, gain=0.08, rho=args.interaction)
        print(f"  power, true +8 points, 5 seeds paired, seed SD {sd * 100:.1f} pts: {power * 100:5.1f}% "
              f"(MC +-{math.sqrt(power * (1 - power) / n) * 100:.1f}), mean half-width {hw * 100:.1f} pts")
    for seeds in (2, 3, 5):
        cov, hw = arm_coverage(rng, max(n // 4, 50), seeds, 0.03)
        print(f"  one arm's mean over {seeds} seeds (seed SD 3.0 pts): coverage {cov * 100:5.1f}% over "
              f"{max(n // 4, 50)} replicates, mean half-width {hw * 100:.1f} pts")
    if args.old:
        for seeds in (2, 3):
            fpr, hw = rate(rng, max(n // 4, 50), seeds, 0.03, rho=args.interaction, old=True)
            print(f"  old percentile bootstrap, seeds {seeds}, seed SD 3.0 pts: false positives {fpr * 100:5.2f}% "
                  f"over {max(n // 4, 50)} replicates, mean half-width {hw * 100:.1f} pts")
    print(f"wall {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
