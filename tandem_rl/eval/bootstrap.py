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
comparison) and, per arm, seeds with replacement; the arm's value is the mean over its drawn seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

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
    """A point value with a percentile interval; vectors (pass@1..n) are lists of the same length."""

    value: float | list
    low: float | list
    high: float | list

    def to_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high}


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
