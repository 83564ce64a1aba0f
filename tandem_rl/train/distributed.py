"""The one place where counts become global: the loss denominators of a mini-batch, summed over ranks.

With data parallelism each rank holds part of a mini-batch; the token-mean denominator must be the number of
masked-in tokens on *all* ranks (not each rank's own count), or ranks with few senior tokens would be over-weighted.
DDP then averages gradients over ranks, so each rank's loss share is multiplied by the world size to undo that mean.
Without ``torch.distributed`` initialised this is a plain local count and a factor of 1.

    >>> import numpy as np
    >>> from tandem_rl.cogen.rollouts import Rollouts
    >>> r = Rollouts([[1], [1]], [[5, 6, 7], [8]], [np.array([1, 0, 1], np.uint8), np.array([0], np.uint8)],
    ...              [np.zeros(3, np.float32), np.zeros(1, np.float32)], [np.zeros(3, np.float32), np.zeros(1, np.float32)],
    ...              ["eos", "eos"])
    >>> mini_batch_counts(r, [0, 1])
    Counts(n_tokens=2.0, n_junior_tokens=2.0, n_seqs=2.0, world_size=1)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tandem_rl.cogen.rollouts import SENIOR, Rollouts


@dataclass
class Counts:
    n_tokens: float         # senior-written response tokens (the loss mask), all ranks
    n_junior_tokens: float  # junior-written response tokens, all ranks
    n_seqs: float           # sequences, all ranks
    world_size: int = 1     # gradient scale that undoes DDP's mean over ranks


def mini_batch_counts(rollouts: Rollouts, rows: list[int], device=None) -> Counts:
    """Global denominators for ``rows`` (this rank's part of a mini-batch), all-reduced when distributed."""
    senior = sum(int((rollouts.author[i] == SENIOR).sum()) for i in rows)
    total = sum(len(rollouts.response_ids[i]) for i in rows)
    local = torch.tensor([senior, total - senior, len(rows)], dtype=torch.float64)
    world = 1
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        world = torch.distributed.get_world_size()
        local = local.to(device) if device is not None else local
        torch.distributed.all_reduce(local, op=torch.distributed.ReduceOp.SUM)
        local = local.cpu()
    return Counts(float(local[0]), float(local[1]), float(local[2]), world)
