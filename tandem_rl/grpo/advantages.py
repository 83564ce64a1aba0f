"""Group-relative advantages (GRPO, Shao et al. 2024): each rollout is scored against its own group.

Rows are laid out group by group: rows ``[g*G, (g+1)*G)`` share one prompt.

Worked example (G = 4, binary rewards, two groups)::

    >>> adv, zero = group_advantages([1, 0, 0, 0,  1, 1, 1, 1], group_size=4)
    >>> adv[:4].round(3).tolist(), adv[4:].tolist(), zero.tolist()
    ([1.5, -0.5, -0.5, -0.5], [0.0, 0.0, 0.0, 0.0], [False, True])

Like TRL and verl, the std is the *sample* std (``ddof=1``, torch's default): the first group has mean 0.25,
std 0.5 and advantages (1 - 0.25) / 0.5 = 1.5.
A group whose rewards are all equal (std 0) gets advantage 0 everywhere: it carries no gradient and is counted.
"""

from __future__ import annotations

import numpy as np


def group_advantages(rewards, group_size: int, *, scale: bool = True, eps: float = 1e-6
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``A = (R - mean_group) / (std_group + eps)`` (``scale=False``: ``R - mean_group``, Dr. GRPO).

    Returns ``(advantages [N] float64, zero_std [N // group_size] bool)``.
    """
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim != 1 or group_size < 1 or len(r) % group_size:
        raise ValueError(f"{len(r)} rewards do not split into groups of {group_size}")
    groups = r.reshape(-1, group_size)
    mean = groups.mean(axis=1, keepdims=True)
    std = groups.std(axis=1, ddof=1, keepdims=True) if group_size > 1 else np.zeros_like(mean)
    zero_std = (groups.max(axis=1) == groups.min(axis=1))
    adv = groups - mean
    if scale:
        adv = adv / (std + eps)
    adv[zero_std] = 0.0  # exact zeros (the subtraction already gives 0; this guards float noise)
    return adv.reshape(-1), zero_std
