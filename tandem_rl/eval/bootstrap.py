"""Percentile-bootstrap confidence intervals over problems, paired comparisons, and means over seeds.

Every metric is stored the same way, as a :class:`Metric`: per benchmark, one numerator and one denominator *per
problem*. A benchmark's value is ``sum(num) / sum(den)`` over its problems; the macro value is the plain mean of the
benchmark values (benchmarks with no denominator are left out). A per-problem mean (pass@k, CE) has ``den = 1``;
a pooled share (displaced tokens that return, correct answers with a false step) has counts in both.

Worked example (two benchmarks)::

    m = Metric({"amc": np.array([1.0, 0.0]), "aime": np.array([0.5])},
               {"amc": np.array([1.0, 1.0]), "aime": np.array([1.0])},
               {"amc": ["a1", "a2"], "aime": ["x1"]})
    m.benchmark_value("amc") == 0.5;  m.macro_value() == 0.5   # mean of 0.5 and 0.5

Resampling draws problems with replacement *within* each benchmark (a stratified bootstrap), so each benchmark keeps
its size and the macro average keeps its weights. Seeds of one arm (separately trained checkpoints evaluated on the
same problems) are resampled too: one resample draws problems once (shared by every arm, which pairs the
comparison) and, per arm, seeds with replacement; the arm's value is the mean over its drawn seeds. That percentile
interval is what a single label's ``summary.json`` holds (one seed: problems only).

Over seeds (2-5 of them, as in the demo and the sweeps) a percentile bootstrap undercovers: it treats the seeds as
the population, shrinks their variance by (S-1)/S and has only a handful of distinct means. Seed groups and every
difference therefore use :func:`compare_arms` / :func:`arm_estimate` / :func:`ratio_estimate`: a t interval whose
variance is the problem component (the bootstrap variance over problems, computed exactly from per-problem
influences rather than by resampling, so endpoints do not move between runs) plus the seed component (the spread of
per-seed values, or of per-seed differences when the arms share their seeds), with the seed component's S-1 degrees
of freedom (docs/evaluation.md "Statistics").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from statistics import NormalDist
from typing import Callable, Optional, Sequence

import numpy as np


@dataclass
class Metric:
    """Per benchmark: per-problem numerators (``[P]`` or ``[P, K]``), denominators ``[P]`` and problem ids."""

    num: dict[str, np.ndarray]
    den: dict[str, np.ndarray]
    ids: dict[str, list[str]]

    def __post_init__(self) -> None:
        for b in self.num:
            self.num[b] = np.asarray(self.num[b], dtype=np.float64)
            self.den[b] = np.asarray(self.den[b], dtype=np.float64)
            if not (len(self.num[b]) == len(self.den[b]) == len(self.ids[b])):
                raise ValueError(f"Metric: benchmark {b!r} has {len(self.num[b])} numerators, "
                                 f"{len(self.den[b])} denominators and {len(self.ids[b])} ids")

    @staticmethod
    def mean_of(values: dict[str, np.ndarray], ids: dict[str, list[str]]) -> "Metric":
        """A per-problem mean: ``den = 1`` for every problem."""
        return Metric({b: np.asarray(v, dtype=np.float64) for b, v in values.items()},
                      {b: np.ones(len(v)) for b, v in values.items()}, ids)

    @property
    def benchmarks(self) -> list[str]:
        return list(self.num)

    def benchmark_value(self, b: str, idx: np.ndarray | None = None) -> np.ndarray:
        """``sum(num)/sum(den)``; with ``idx`` ``[R, P]`` one value per resample (``[R]`` or ``[R, K]``)."""
        num, den = self.num[b], self.den[b]
        if idx is not None:
            num, den = num[idx], den[idx]  # [R, P(, K)]
            axis = 1
        else:
            axis = 0
        s_den = den.sum(axis=axis)
        s_num = num.sum(axis=axis)
        if s_num.ndim > s_den.ndim:
            s_den = s_den[..., None]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(s_den > 0, s_num / np.where(s_den > 0, s_den, 1.0), np.nan)

    def macro_value(self, idx: dict[str, np.ndarray] | None = None) -> np.ndarray:
        vals = np.stack([self.benchmark_value(b, None if idx is None else idx[b]) for b in self.benchmarks])
        return _nanmean0(vals)

    def value(self, level: str, idx: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """``level`` = "macro" or a benchmark name."""
        if level == "macro":
            return self.macro_value(idx)
        return self.benchmark_value(level, None if idx is None else idx[level])

    def reindex(self, ids: dict[str, list[str]]) -> "Metric":
        """The same metric restricted to / reordered by ``ids`` (every id must be present)."""
        num, den = {}, {}
        for b, want in ids.items():
            pos = {pid: i for i, pid in enumerate(self.ids[b])}
            sel = np.array([pos[p] for p in want], dtype=np.int64)
            num[b], den[b] = self.num[b][sel], self.den[b][sel]
        return Metric(num, den, {b: list(v) for b, v in ids.items()})


@dataclass
class Estimate:
    """A point value with an interval; vectors (pass@1..n) are lists of the same length. A t interval also carries
    its standard error ``se``, degrees of freedom ``df`` (None = no seed variance, a normal quantile), the 80%-power
    minimum detectable difference ``mdd``, ``n_seeds`` and whether seeds were paired (``extra``)."""

    value: float | list
    low: float | list
    high: float | list
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high, **self.extra}


def _nanmean0(x: np.ndarray) -> np.ndarray:
    """Mean over axis 0 ignoring nan, nan (not a warning) where all are nan."""
    ok = ~np.isnan(x)
    cnt = ok.sum(axis=0)
    tot = np.where(ok, x, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def _listify(x: np.ndarray) -> float | list:
    x = np.asarray(x, dtype=np.float64)
    return [None if np.isnan(v) else float(v) for v in x] if x.ndim else (None if np.isnan(x) else float(x))


def common_ids(metrics: Sequence[Metric]) -> dict[str, list[str]]:
    """Problems present in every metric, per benchmark present in every metric (order of the first metric)."""
    benches = [b for b in metrics[0].benchmarks if all(b in m.ids for m in metrics)]
    out = {}
    for b in benches:
        keep = set(metrics[0].ids[b])
        for m in metrics[1:]:
            keep &= set(m.ids[b])
        out[b] = [p for p in metrics[0].ids[b] if p in keep]
    return out


def resample_problems(sizes: dict[str, int], resamples: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per benchmark an ``[R, P]`` matrix of problem indices drawn with replacement."""
    return {b: rng.integers(0, n, size=(resamples, n)) if n else np.zeros((resamples, 0), dtype=np.int64)
            for b, n in sizes.items()}


def bootstrap(arms: Sequence[Sequence[Metric]], stat: Callable[..., np.ndarray] = lambda a: a, *,
              level: str = "macro", resamples: int = 1000, seed: int = 0, confidence: float = 0.95,
              shared_seeds: bool = False) -> Estimate:
    """Point value and percentile interval of ``stat(arm_1, arm_2, ...)``.

    ``arms``: one list of per-seed metrics per arm (one element = a single seed). The point value is ``stat`` of the
    per-arm means over seeds on all problems. Each resample draws problems once within every benchmark (shared by
    all arms and seeds: comparisons are paired) and seeds with replacement per arm (``shared_seeds=True`` draws the
    same seed indices for every arm, for arms that are different metrics of the same checkpoints, e.g. a ratio).

    Examples::

        bootstrap([[solo]])                                  # one metric, one seed
        bootstrap([[a], [b]], lambda x, y: x - y)            # paired difference of two checkpoints
        bootstrap([[h0, h1], [s0, s1]], np.divide, shared_seeds=True)   # handoff / solo over two seeds
    """
    flat = [m for arm in arms for m in arm]
    ids = common_ids(flat)
    if level != "macro" and level not in ids:
        raise KeyError(f"benchmark {level!r} is not in every metric (have {sorted(ids)})")
    arms = [[m.reindex(ids) for m in arm] for arm in arms]
    with np.errstate(invalid="ignore", divide="ignore"):
        point = stat(*[np.mean([m.value(level) for m in arm], axis=0) for arm in arms])
    rng = np.random.default_rng(seed)
    idx = resample_problems({b: len(v) for b, v in ids.items()}, resamples, rng)
    seed_draws = None
    if shared_seeds:
        n_seeds = {len(arm) for arm in arms}
        if len(n_seeds) != 1:
            raise ValueError("shared_seeds=True needs the same number of seeds in every arm")
        seed_draws = rng.integers(0, n_seeds.pop(), size=(resamples, len(arms[0])))
    per_arm = []
    for arm in arms:
        vals = np.stack([m.value(level, idx) for m in arm])  # [S, R(, K)]
        draw = seed_draws if seed_draws is not None else rng.integers(0, len(arm), size=(resamples, len(arm)))
        picked = vals[draw, np.arange(resamples)[:, None]]  # [R, S(, K)]
        per_arm.append(_nanmean_axis1(picked))
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = stat(*per_arm)
    alpha = (1.0 - confidence) / 2.0
    low, high = _nanpercentile(dist, 100 * alpha), _nanpercentile(dist, 100 * (1 - alpha))
    return Estimate(_listify(point), _listify(low), _listify(high))


def _nanmean_axis1(x: np.ndarray) -> np.ndarray:
    return _nanmean0(np.moveaxis(x, 1, 0))


def _nanpercentile(x: np.ndarray, q: float) -> np.ndarray:
    """Percentile over resamples (axis 0), nan where every resample is nan."""
    ok = ~np.isnan(x)
    if ok.all():
        return np.percentile(x, q, axis=0)
    out = np.full(x.shape[1:], np.nan)
    flat_x, flat_ok, flat_out = x.reshape(len(x), -1), ok.reshape(len(x), -1), out.reshape(-1)
    for j in range(flat_x.shape[1]):
        if flat_ok[:, j].any():
            flat_out[j] = np.percentile(flat_x[flat_ok[:, j], j], q)
    return flat_out.reshape(x.shape[1:]) if x.ndim > 1 else flat_out[0]


# --- t intervals over seeds and problems -------------------------------------------------------------------------

POWER = 0.80  # the power at which ``mdd``, the smallest difference a design could have detected, is stated


@lru_cache(maxsize=64)  # ~0.3 MB each
def _t_table(df: float) -> tuple[np.ndarray, np.ndarray, float]:
    """With x = sqrt(df) tan(u) the t density's integral from 0 to x is ``scale`` times the integral of
    cos(u)^(df - 1) from 0 to u, bounded and smooth on [0, pi/2): a fine trapezoid grid of it (numpy only)."""
    u = np.linspace(0.0, math.pi / 2, 20_001)
    g = np.cos(u) ** (df - 1.0)
    area = np.concatenate([[0.0], np.cumsum((g[1:] + g[:-1]) / 2 * np.diff(u))])
    return u, area, math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(math.pi)


def _no_df(df: Optional[float]) -> bool:
    return df is None or not math.isfinite(df) or df > 1e7


@lru_cache(maxsize=256)
def t_quantile(q: float, df: Optional[float]) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom (None: the normal)::

        >>> round(t_quantile(0.975, 1), 3), round(t_quantile(0.975, 2), 3), round(t_quantile(0.975, None), 3)
        (12.706, 4.303, 1.96)
    """
    if _no_df(df):
        return NormalDist().inv_cdf(q)
    if q < 0.5:
        return -t_quantile(1.0 - q, df)
    u, area, scale = _t_table(max(float(df), 1.0))
    return float(math.sqrt(max(df, 1.0)) * math.tan(np.interp((q - 0.5) / scale, area, u)))


def t_cdf(x: float, df: Optional[float]) -> float:
    """P(T <= x) for Student's t (None: the normal)::

        >>> round(t_cdf(4.303, 2), 4), round(t_cdf(-1.0, None), 4)
        (0.975, 0.1587)
    """
    if _no_df(df):
        return NormalDist().cdf(x)
    df = max(float(df), 1.0)
    u, area, scale = _t_table(df)
    return float(0.5 + math.copysign(scale * np.interp(math.atan(abs(x) / math.sqrt(df)), u, area), x))


def _value_and_influence(metric: Metric, level: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The value at ``level`` and, per benchmark, each problem's influence on it: how much one more copy of problem
    i in a resample moves the value, ``(n_i - r d_i) / D`` for a benchmark ``r = N / D`` (divided by the number of
    benchmarks with a value, for the macro). The bootstrap variance over problems is the sum of squared influences
    (centred), exactly for a mean and to first order for a ratio."""
    benches = metric.benchmarks if level == "macro" else [level]
    infl, vals = {}, []
    for b in benches:
        num, den = metric.num[b], metric.den[b]
        total = den.sum()
        r = metric.benchmark_value(b)
        d = den.reshape(den.shape + (1,) * (num.ndim - 1))
        infl[b] = (num - np.nan_to_num(r) * d) / total if total > 0 else np.zeros_like(num)
        if total > 0:
            vals.append(r)
    if not vals:
        return np.full(metric.num[benches[0]].shape[1:], np.nan), infl
    return np.mean(vals, axis=0), {b: v / len(vals) for b, v in infl.items()}


def _seed_component(values: list[np.ndarray], w: list, paired: bool):
    """(variance, degrees of freedom) of the seed part: per-seed differences (paired: the weighted sum per seed)
    or Welch over the arms' seed spreads; (0, None) when no arm has two seeds."""
    if paired and len(values[0]) > 1:
        z = sum(wa * v for wa, v in zip(w, values))
        return np.var(z, axis=0, ddof=1) / len(z), len(z) - 1.0
    parts = [np.asarray(wa) ** 2 * np.var(v, axis=0, ddof=1) / len(v) for wa, v in zip(w, values) if len(v) > 1]
    if not parts:
        return 0.0, None
    dfs = [len(v) - 1.0 for v in values if len(v) > 1]
    var = sum(parts)
    with np.errstate(invalid="ignore", divide="ignore"):
        welch = var ** 2 / sum(p ** 2 / n for p, n in zip(parts, dfs))
    return var, np.where(np.isfinite(welch), welch, min(dfs))  # all spreads zero: Welch's lower bound


def _problem_component(parts, w, ids, paired: bool):
    """(bootstrap variance over problems of the seed-averaged statistic, the part of it that is each seed's own
    noise): centred squared influences, and per problem the spread of its influence over seeds / S (per arm
    unpaired; of the weighted per-seed sum paired)."""
    var_p, within = 0.0, 0.0
    for b in parts[0][0][1]:  # the benchmarks of the level (all for the macro)
        per_arm = [np.stack([infl[b] for _, infl in arm]) for arm in parts]  # [S, P(, K)]
        phi = sum(wa * x.mean(axis=0) for wa, x in zip(w, per_arm))
        var_p = var_p + (phi ** 2).sum(axis=0) - phi.sum(axis=0) ** 2 / max(len(ids[b]), 1)
        if paired and len(per_arm[0]) > 1:
            z = sum(wa * x for wa, x in zip(w, per_arm))
            within = within + np.var(z, axis=0, ddof=1).sum(axis=0) / len(z)
        else:
            within = within + sum(np.asarray(wa) ** 2 * np.var(x, axis=0, ddof=1).sum(axis=0) / len(x)
                                  for wa, x in zip(w, per_arm) if len(x) > 1)
    return var_p, within


def _t_estimate(arms: Sequence[Sequence[Metric]], point: Callable, grad: Callable, *, level: str,
                confidence: float, paired: bool, combine: bool = False) -> Estimate:
    """``point(mean_1, ..., mean_A)`` of the arms' means over seeds, with a t interval. Variance: the seed component
    (``_seed_component``) plus the problem component (``_problem_component``, linearized by ``grad``) less the seeds'
    own sampling noise, which the seed spread already holds (floored at zero). df: the seed component's (S-1, or
    Welch), none at one seed (a normal quantile); ``combine``: Welch-Satterthwaite over both components, with
    problems - benchmarks df for the problem part (arm means, where that part dominates; docs/evaluation.md)."""
    ids = common_ids([m for arm in arms for m in arm])
    if level != "macro" and level not in ids:
        raise KeyError(f"benchmark {level!r} is not in every metric (have {sorted(ids)})")
    parts = [[_value_and_influence(m.reindex(ids), level) for m in arm] for arm in arms]
    values = [np.stack([v for v, _ in arm]) for arm in parts]  # per arm [S(, K)]
    means = [v.mean(axis=0) for v in values]
    with np.errstate(invalid="ignore", divide="ignore"):  # a ratio over a zero mean is nan, not a warning
        value, w = point(*means), grad(*means)
        var_p, within = _problem_component(parts, w, ids, paired)
        var_s, df = _seed_component(values, w, paired)
    if df is not None:
        # the seeds' own sampling noise is in both components: count it once (within), keep the shared part >= 0
        shared = np.maximum(var_p - within, 0.0)
        benches = parts[0][0][1]
        df_p = max(sum(len(ids[b]) for b in benches) - len(benches), 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            sat = (shared + var_s) ** 2 / (shared ** 2 / df_p + var_s ** 2 / df)
        df = np.where(np.isfinite(sat), np.maximum(sat, df), df) if combine else df
        var_p = shared
    se = np.sqrt(var_p + var_s)
    q = 1.0 - (1.0 - confidence) / 2.0
    # df rounded down (wider, never narrower) so that the quantiles cache
    quant = np.vectorize(lambda d, p: t_quantile(p, None if d is None else math.floor(float(d) * 100) / 100),
                         otypes=[float])
    dfs = np.broadcast_to(np.asarray(df, dtype=object), np.shape(se))
    tq, tp = quant(dfs, q), quant(dfs, POWER)
    extra = {"se": _listify(se), "df": None if df is None else _listify(np.broadcast_to(df, np.shape(se))),
             "mdd": _listify((tq + tp) * se), "n_seeds": [len(arm) for arm in arms], "seeds_paired": paired}
    if df is None:
        extra["note"] = "1 seed: no seed variance"
    return Estimate(_listify(value), _listify(value - tq * se), _listify(value + tq * se), extra)


def compare_arms(a: Sequence[Metric], b: Sequence[Metric], *, paired: bool = False, level: str = "macro",
                 confidence: float = 0.95) -> Estimate:
    """The mean over seeds of arm ``a`` minus that of arm ``b`` on the problems both have, with a t interval.

    ``a``, ``b``: one Metric per seed (per-problem values of one checkpoint). ``paired=True`` when seed s of ``a``
    and seed s of ``b`` share their training seed (and both were evaluated with the same evaluation seed): the
    seed component is then the spread of the per-seed differences, with S-1 degrees of freedom; unpaired, it is
    Welch's (each arm's seed variance over its seeds, Welch-Satterthwaite df). The problem component is the exact
    bootstrap variance over problems of the seed-averaged difference (problems shared by both arms: paired on
    problems always). Returned extras: ``se``, ``df`` (None: one seed, no seed variance), ``mdd`` (the difference
    this design detects with 80% power, (t_0.975 + t_0.80) x se), ``n_seeds``, ``seeds_paired``.

    Worked example: two seeds per arm, four problems, per-problem pass@1 (4 samples each)::

        >>> ids = {"t": ["p1", "p2", "p3", "p4"]}
        >>> a = [Metric.mean_of({"t": v}, ids) for v in ([1, 1, 0, .5], [1, .5, 0, .5])]    # means .625, .500
        >>> b = [Metric.mean_of({"t": v}, ids) for v in ([1, .5, 0, 0], [.5, .5, 0, .5])]   # means .375, .375
        >>> est = compare_arms(a, b, paired=True)  # per-seed differences .250, .125
        >>> round(est.value, 4), [round(x, 3) for x in (est.low, est.high, est.extra["mdd"])], est.extra["df"]
        (0.1875, [-0.607, 0.982, 0.88], 1.0)

    The seed component is var(.250, .125) / 2 = 0.0039. The problem component, from the per-problem differences
    averaged over seeds (.25, .25, 0, .25), is 0.0029, less than the seeds' own noise it holds (0.0107: each
    problem's difference moves from seed to seed), so its shared part is zero. se = 0.0625 and with 1 degree of
    freedom t = 12.7: two seeds could detect only a difference of about 88 points here (``mdd``)."""
    if paired and len(a) != len(b):
        raise ValueError(f"paired seeds need the same number of seeds in both arms ({len(a)} vs {len(b)})")
    return _t_estimate([a, b], lambda x, y: x - y, lambda x, y: (1.0, -1.0), level=level, confidence=confidence,
                       paired=paired)


def arm_estimate(seeds: Sequence[Metric], *, level: str = "macro", confidence: float = 0.95) -> Estimate:
    """One arm's mean over its seeds with the same t interval (seed component: the spread of its per-seed values,
    S-1 df; one seed: the problem component alone, a normal quantile)."""
    return _t_estimate([seeds], lambda x: x, lambda x: (1.0,), level=level, confidence=confidence, paired=False,
                       combine=True)


def ratio_estimate(top: Sequence[Metric], bottom: Sequence[Metric], *, level: str = "macro",
                   confidence: float = 0.95) -> Estimate:
    """``mean(top) / mean(bottom)`` over seeds for two metrics of the same checkpoints (e.g. handoff / solo): seeds
    paired by position, the ratio linearized (delta method) in both components."""
    if len(top) != len(bottom):
        raise ValueError(f"a ratio needs the same seeds above and below ({len(top)} vs {len(bottom)})")
    return _t_estimate([top, bottom], lambda x, y: x / y, lambda x, y: (1.0 / y, -x / y ** 2), level=level,
                       confidence=confidence, paired=True)
