"""The comparison keeps its promise at 2-5 seeds (issue #29): on simulated identical arms the 95% interval of
``compare_arms`` excludes zero at most 6% of the time, and at 5 seeds it sees a true 8-point difference.

The setting is the demo's evaluation: 100 problems x 4 samples, 47 of them unsolvable, each arm-seed shifting the
solvable problems' logits so that its true accuracy moves with SD 2.5 or 3.5 points; seeds paired by position (the
demo's arms share their training seeds, but in truth each arm-seed's shift is independent, so pairing gains nothing
here: the check is that it costs no validity). The simulation is vectorized and the interval needs no resampling (the
problem component is computed from per-problem influences), so the replicate counts are the only cost.
benchmarks/sim_coverage.py runs the same question with more replicates, unpaired arms and per-problem seed noise.
"""

import numpy as np
import pytest

from tandem_rl.eval.bootstrap import Metric, compare_arms

PROBLEMS, UNSOLVABLE, SAMPLES = 100, 47, 4
IDS = {"world": [f"p{i}" for i in range(PROBLEMS)]}


def simulate(rng, n: int, seeds: int, sd: float, gain: float = 0.0) -> np.ndarray:
    """``[n, 2, seeds, PROBLEMS]`` per-problem pass@1 of arms a and b over ``n`` replicates; arm a's solvable
    problems are lifted by ``gain`` in solve chance (capped at 1), i.e. ~``gain`` x 0.53 ... ``gain`` in accuracy."""
    chance = np.zeros((n, 1, 1, PROBLEMS))
    chance[..., UNSOLVABLE:] = rng.beta(4.0, 1.0, size=(n, 1, 1, PROBLEMS - UNSOLVABLE))
    # logit shift with SD tau moves the accuracy by ~tau x mean p(1 - p): scale tau so that the accuracy SD is sd
    slope = (chance * (1 - chance)).mean(axis=-1, keepdims=True)
    tau = sd / slope
    logit = np.log(np.clip(chance, 1e-9, 1 - 1e-9) / np.clip(1 - chance, 1e-9, 1))
    shifted = 1 / (1 + np.exp(-(logit + tau * rng.standard_normal((n, 2, seeds, 1)))))
    shifted = np.where(chance > 0, shifted, 0.0)
    shifted[:, 0] = np.where(chance[:, 0] > 0, np.minimum(shifted[:, 0] + gain, 1.0), 0.0)
    return rng.binomial(SAMPLES, shifted) / SAMPLES


def outcomes(hits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per replicate: lower end, upper end and true-mean difference of arm a's minus arm b's accuracy."""
    low, high = np.empty(len(hits)), np.empty(len(hits))
    for r, rep in enumerate(hits):
        a, b = ([Metric.mean_of({"world": row}, IDS) for row in arm] for arm in rep)
        est = compare_arms(a, b, paired=True)
        low[r], high[r] = est.low, est.high
    return low, high, hits[:, 0].mean(axis=(1, 2)) - hits[:, 1].mean(axis=(1, 2))


@pytest.mark.parametrize("seeds", [2, 3, 5])
def test_false_positive_rate_on_identical_arms(seeds):
    # 700 replicates per seed SD, 1400 per seed count: at a true rate of 5% the Monte-Carlo SD of the pooled rate is
    # 0.58 points, so 6% is ~1.7 SD above nominal. Measured with the fixed seeds below (SD 2.5 / 3.5 points):
    # 2 seeds 1.7% / 2.0%, 3 seeds 3.7% / 4.1%, 5 seeds 2.6% / 3.0%; a method at the old 9-20% fails by >= 5 SD.
    rng = np.random.default_rng(29 + seeds)
    rates = []
    for sd in (0.025, 0.035):
        low, high, _ = outcomes(simulate(rng, 700, seeds, sd))
        rates.append(np.mean((low > 0) | (high < 0)))
    assert np.mean(rates) <= 0.06, f"{seeds} seeds: false positives {rates}"
    assert max(rates) <= 0.075, f"{seeds} seeds: false positives {rates}"  # no seed SD far off on its own


def test_power_for_eight_points_at_five_seeds():
    # solvable problems lifted by 0.25 in solve chance (capped at 1): +8.0 points of accuracy on average. Measured
    # power 0.94 over these 300 replicates (Monte-Carlo SD ~1.4 points; benchmarks/sim_coverage.py, a logit lift:
    # ~0.95). Floor 0.80: room for the Monte-Carlo error and small changes of the simulated design, while the
    # 80%-power promise of a 5-seed design (its mdd, ~7.3 points here) must hold at 8 points
    rng = np.random.default_rng(8)
    low, high, true_gap = outcomes(simulate(rng, 300, 5, 0.03, gain=0.25))
    assert 0.075 <= true_gap.mean() <= 0.085  # the simulated difference is the stated 8 points
    power = np.mean(low > 0)
    assert power >= 0.80, f"power {power:.2f} for +{true_gap.mean() * 100:.1f} points at 5 seeds"
