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


# --- t intervals over seeds and problems (issue #29) ---------------------------------------------------------------

def test_t_quantile_and_cdf_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    from tandem_rl.eval.bootstrap import t_cdf, t_quantile

    for df in (1, 2, 3, 4.5, 9, 60):
        for q in (0.8, 0.975, 0.995, 0.1):
            assert t_quantile(q, df) == pytest.approx(stats.t.ppf(q, df), rel=1e-6, abs=1e-6)
        for x in (-3.0, 0.3, 2.0, 12.7):
            assert t_cdf(x, df) == pytest.approx(stats.t.cdf(x, df), abs=1e-7)
    assert t_quantile(0.975, None) == pytest.approx(stats.norm.ppf(0.975))


def test_problem_component_is_the_bootstrap_variance():
    """The analytic problem component (one seed: the whole variance) equals the resampled bootstrap's variance, for a
    per-problem mean and for a pooled ratio over two benchmarks."""
    from tandem_rl.eval.bootstrap import compare_arms

    rng = np.random.default_rng(7)
    ids = {"x": [f"x{i}" for i in range(60)], "y": [f"y{i}" for i in range(40)]}

    def pooled(shift):
        num = {b: rng.binomial(4, 0.3 + shift, size=len(v)).astype(float) for b, v in ids.items()}
        return Metric(num, {b: rng.integers(1, 5, size=len(v)).astype(float) + num[b] for b, v in ids.items()}, ids)

    for a, b in ((mean_metric(rng.normal(0, 1, 100)), mean_metric(rng.normal(0.1, 1, 100))), (pooled(0), pooled(.1))):
        est = compare_arms([a], [b])
        draws = bootstrap([[a], [b]], np.subtract, resamples=20000, seed=1)
        # the percentile interval's width / (2 x 1.96) is the resampled standard error
        assert est.extra["se"] == pytest.approx((draws.high - draws.low) / (2 * 1.96), rel=0.05)
        assert est.extra["df"] is None and est.extra["note"] == "1 seed: no seed variance"
        assert est.value == pytest.approx(draws.value)


def test_pairing_removes_a_shift_shared_by_seed():
    """Seed s of both arms shares a large shift (same training seed): paired, it cancels; unpaired, it does not."""
    from tandem_rl.eval.bootstrap import compare_arms

    rng = np.random.default_rng(3)
    base = rng.uniform(0, 1, size=200)
    shifts = [-0.1, 0.0, 0.1]
    a = [mean_metric(base + s + 0.02 + rng.normal(0, 0.01, 200)) for s in shifts]
    b = [mean_metric(base + s + rng.normal(0, 0.01, 200)) for s in shifts]
    paired, unpaired = compare_arms(a, b, paired=True), compare_arms(a, b, paired=False)
    assert paired.value == pytest.approx(unpaired.value) and paired.value == pytest.approx(0.02, abs=0.005)
    assert paired.low > 0 and unpaired.low < 0  # the shared shift hides the gap unless seeds are paired
    assert paired.extra["df"] == 2.0 and paired.extra["seeds_paired"] and not unpaired.extra["seeds_paired"]
    assert paired.extra["mdd"] < unpaired.extra["mdd"] / 5
    with pytest.raises(ValueError, match="same number of seeds"):
        compare_arms(a, b[:2], paired=True)


def test_t_interval_is_reproducible_and_order_free():
    """No resampling: the same inputs give the same endpoints, whatever the order of problems or of other work."""
    from tandem_rl.eval.bootstrap import compare_arms

    rng = np.random.default_rng(5)
    a = [mean_metric(rng.binomial(1, p, 100)) for p in (0.4, 0.5)]
    b = [mean_metric(rng.binomial(1, p, 100)) for p in (0.45, 0.35)]
    first = compare_arms(a, b, paired=True).to_dict()
    perm = rng.permutation(100)
    shuffled = [Metric.mean_of({"b": m.num["b"][perm]}, {"b": [m.ids["b"][i] for i in perm]}) for m in b]
    again = compare_arms(a, shuffled, paired=True).to_dict()
    assert again == compare_arms(a, shuffled, paired=True).to_dict()  # bit for bit on a rerun
    assert {k: again[k] for k in ("value", "low", "high", "mdd")} == pytest.approx(
        {k: first[k] for k in ("value", "low", "high", "mdd")}, abs=1e-12)
    assert first["n_seeds"] == [2, 2] and first["low"] < first["value"] < first["high"]


def test_arm_mean_and_ratio_over_seeds_and_vectors():
    from tandem_rl.eval.bootstrap import arm_estimate, ratio_estimate

    rng = np.random.default_rng(8)
    ids = {"b": [f"p{i}" for i in range(80)]}
    base = rng.uniform(0, 1, size=(80, 3))  # problem difficulty, shared by the seeds
    seeds = [Metric.mean_of({"b": base + rng.normal(0, 0.05, size=(80, 3))}, ids) for _ in range(3)]
    est = arm_estimate(seeds)
    assert len(est.value) == 3 and all(lo < v < hi for lo, v, hi in zip(est.low, est.value, est.high))
    # problems dominate an arm's variance: Welch-Satterthwaite gives more df than the seeds' 2
    assert all(d > 2 for d in est.extra["df"])
    top = [Metric.mean_of({"b": m.num["b"] * 0.5}, ids) for m in seeds]
    ratio = ratio_estimate(top, seeds)
    assert ratio.value == pytest.approx([0.5] * 3) and ratio.extra["se"] == pytest.approx([0.0] * 3, abs=1e-12)
