"""The unbiased pass@k estimator (Chen et al. 2021; used by Jiao et al. 2026 for every accuracy they report).

From ``n`` samples of one problem of which ``c`` are correct, the chance that a random size-``k`` subset (drawn
without replacement) holds at least one correct sample is::

    pass@k = 1 - C(n - c, k) / C(n, k)

Worked example: n = 4 samples, c = 1 correct::

    pass_at_k(4, 1, 1) == 0.25          # one draw hits the correct sample 1 time in 4
    pass_at_k(4, 1, 2) == 0.5           # 1 - C(3,2)/C(4,2) = 1 - 3/6
    pass_at_k(4, 1, 4) == 1.0
    pass_at_k_curve([0, 1, 0, 0])  ->  array([0.25, 0.5, 0.75, 1.0])   # k = 1..4

The ratio is computed as a product, ``prod_{i=n-c+1..n} (1 - k/i)``, which never forms huge binomials.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples with ``c`` correct (``1 <= k <= n``, ``0 <= c <= n``)."""
    if not (0 <= c <= n) or not (1 <= k <= n):
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:  # every size-k subset contains a correct sample
        return 1.0
    # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def pass_at_k_curve(correct: Sequence[bool] | np.ndarray) -> np.ndarray:
    """pass@k for k = 1..n from one problem's per-sample correctness (``n = len(correct)``)."""
    correct = np.asarray(correct, dtype=bool)
    n, c = len(correct), int(correct.sum())
    if n == 0:
        raise ValueError("pass_at_k_curve needs at least one sample")
    return np.array([pass_at_k(n, c, k) for k in range(1, n + 1)])


def pass_at_k_table(correct: np.ndarray) -> np.ndarray:
    """``[problems, n]`` correctness -> ``[problems, n]`` pass@k, column ``k-1`` holding pass@k."""
    correct = np.asarray(correct, dtype=bool)
    if correct.ndim != 2:
        raise ValueError(f"pass_at_k_table expects a [problems, samples] array, got shape {correct.shape}")
    return np.stack([pass_at_k_curve(row) for row in correct]) if len(correct) else np.zeros((0, correct.shape[1]))
