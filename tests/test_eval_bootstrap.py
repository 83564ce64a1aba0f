"""Bootstrap intervals: coverage on synthetic data, shrinkage with n, paired differences, ratio, seeds."""

import numpy as np
import pytest

from tandem_rl.eval.bootstrap import Metric, bootstrap


def mean_metric(values, bench="b", prefix="p"):
    return Metric.mean_of({bench: np.asarray(values, float)}, {bench: [f"{prefix}{i}" for i in range(len(values))]})


def test_macro_value_is_mean_of_benchmark_ratios():
    m = Metric({"amc": np.array([1.0, 0.0]), "aime": np.array([2.0, 1.0])},
               {"amc": np.array([1.0, 1.0]), "aime": np.array([4.0, 0.0])},
               {"amc": ["a1", "a2"], "aime": ["x1", "x2"]})
    assert m.benchmark_value("amc") == 0.5 and m.benchmark_value("aime") == 0.75
    assert m.macro_value() == pytest.approx(0.625)


def test_coverage_near_nominal_on_synthetic_data():
    rng = np.random.default_rng(1)
    true_mean, hits, trials = 0.3, 0, 200
    for t in range(trials):
        est = bootstrap([[mean_metric(rng.binomial(1, true_mean, size=80))]], resamples=400, seed=t)
        hits += est.low <= true_mean <= est.high
    # nominal 95%; percentile bootstrap on n=80 runs slightly below. 200 trials: sd of rate ~1.5 points.
    assert 0.88 <= hits / trials <= 0.99


def test_interval_shrinks_with_more_problems():
    rng = np.random.default_rng(0)
    widths = []
    for n in (25, 100, 400, 1600):
        est = bootstrap([[mean_metric(rng.normal(0, 1, size=n))]], resamples=500, seed=0)
        assert est.low <= est.value <= est.high
        widths.append(est.high - est.low)
    assert all(a > b for a, b in zip(widths, widths[1:]))
    assert widths[0] / widths[-1] == pytest.approx(8.0, rel=0.3)  # width ~ 1/sqrt(n)


def test_paired_difference_uses_the_pairing():
    rng = np.random.default_rng(2)
    base = rng.normal(0, 5, size=200)  # large problem-to-problem spread, shared by both checkpoints
    a, b = mean_metric(base + 0.3), mean_metric(base + rng.normal(0, 0.1, size=200))
    paired = bootstrap([[a], [b]], np.subtract, resamples=500)
    assert paired.value == pytest.approx(a.macro_value() - b.macro_value())
    assert paired.low > 0  # paired: the shared spread cancels and the small gap is significant
    assert paired.high - paired.low < 0.1
    # reordered ids are aligned by problem id, not position
    perm = rng.permutation(200)
    b_perm = Metric.mean_of({"b": b.num["b"][perm]}, {"b": [b.ids["b"][i] for i in perm]})
    again = bootstrap([[a], [b_perm]], np.subtract, resamples=500)
    assert again.value == pytest.approx(paired.value)


def test_vector_metric_and_nan_benchmark():
    m = Metric({"x": np.array([[0.0, 1.0], [1.0, 1.0]]), "y": np.array([[1.0, 1.0]])},
               {"x": np.ones(2), "y": np.zeros(1)}, {"x": ["a", "b"], "y": ["c"]})
    est = bootstrap([[m]], resamples=50)
    assert est.value == [0.5, 1.0]  # y has no denominator: left out of the macro
    assert est.low[1] == est.high[1] == 1.0


def test_seed_mean_interval_covers_seed_spread():
    rng = np.random.default_rng(3)
    seeds = [mean_metric(rng.binomial(1, p, size=300)) for p in (0.2, 0.5, 0.8)]
    one = bootstrap([[seeds[1]]], resamples=400)
    many = bootstrap([seeds], resamples=400)
    assert many.value == pytest.approx(np.mean([s.macro_value() for s in seeds]))
    assert (many.high - many.low) > 3 * (one.high - one.low)  # seed variation dominates the interval


def test_ratio_with_shared_seeds():
    h, s = mean_metric([0.5, 0.5, 1.0, 0.0]), mean_metric([1.0, 0.5, 1.0, 0.5])
    est = bootstrap([[h], [s]], np.divide, shared_seeds=True, resamples=200)
    assert est.value == pytest.approx(0.5 / 0.75)
    assert est.low <= est.value <= est.high
