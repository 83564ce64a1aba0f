"""Which problems a training step uses: a pure function of (seed, step), so resuming never repeats or skips data.

The training set is read as an endless stream of epochs, each a fresh permutation seeded by ``(seed, epoch)``;
step ``s`` takes the ``prompts_per_step`` items starting at stream position ``s * prompts_per_step`` (the "data
position" saved in checkpoints). Every problem is seen once per epoch.

    >>> step_indices(0, n_problems=5, per_step=3, seed=0), step_indices(1, n_problems=5, per_step=3, seed=0)
    ([2, 4, 3], [0, 1, 1])

Step 1 finishes epoch 0 with problems 0 and 1, then starts epoch 1 (a new permutation) with problem 1.
"""

from __future__ import annotations

import numpy as np


def epoch_order(epoch: int, n_problems: int, seed: int) -> np.ndarray:
    """The permutation of ``range(n_problems)`` used in ``epoch``."""
    return np.random.default_rng([seed, epoch]).permutation(n_problems)


def step_indices(step: int, n_problems: int, per_step: int, seed: int) -> list[int]:
    """Problem indices for ``step`` (they may straddle an epoch boundary)."""
    if n_problems < 1:
        raise ValueError("the training set is empty")
    out: list[int] = []
    pos = step * per_step
    while len(out) < per_step:
        epoch, offset = divmod(pos, n_problems)
        take = min(per_step - len(out), n_problems - offset)
        out += epoch_order(epoch, n_problems, seed)[offset:offset + take].tolist()
        pos += take
    return out


def step_seed(seed: int, step: int, salt: int = 0) -> int:
    """A 63-bit seed for the engine call ``salt`` of ``step``; independent streams for different (step, salt)."""
    return int(np.random.SeedSequence([seed, step, salt]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
