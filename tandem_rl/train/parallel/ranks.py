"""Ranks: which rows each rank owns, the global loss denominators, and the reductions over ranks.

Launch with Accelerate (or torchrun); ``parallel.start`` turns data parallelism on when ``WORLD_SIZE > 1``:

    accelerate launch --config_file configs/accelerate/ddp-2gpu.yaml -m tandem_rl.cli train CONFIG.yaml

**Sharding.** A step's ``P`` prompts form ``M`` mini-batches of ``P/M`` prompt groups; every mini-batch is split
into ``W`` equal slices, one per rank, so each rank takes part in every optimizer step and every group's G
rollouts live on one rank (its reward baseline needs no communication). Needs ``P/M`` divisible by ``W``.

    >>> rank_groups(prompts=8, mini_batches=2, world=2, rank=0), rank_groups(8, 2, 2, 1)
    ([0, 1, 4, 5], [2, 3, 6, 7])

Rank 0 holds the first half of mini-batch 0 (groups 0-3) and of mini-batch 1 (groups 4-7); on each rank,
``update_policy`` splits its local groups into the same ``M`` mini-batches, which are exactly its slices.

**Denominators.** ``mini_batch_counts`` is the one place counts become global: the token-mean denominator is the
number of senior tokens on *all* ranks; the backends average gradients over ranks, so each rank's loss share is
multiplied by the world size to undo that mean. Without ``torch.distributed`` it is a local count and a factor 1.

    >>> import numpy as np
    >>> from tandem_rl.cogen.rollouts import Rollouts
    >>> r = Rollouts([[1], [1]], [[5, 6, 7], [8]], [np.array([1, 0, 1], np.uint8), np.array([0], np.uint8)],
    ...              [np.zeros(3, np.float32), np.zeros(1, np.float32)], [np.zeros(3, np.float32), np.zeros(1, np.float32)],
    ...              ["eos", "eos"])
    >>> mini_batch_counts(r, [0, 1])
    Counts(n_tokens=2.0, n_junior_tokens=2.0, n_seqs=2.0, world_size=1)

**Lock-step.** Gradients are reduced inside ``backward``, so all ranks must run the same number of backward
passes per optimizer step. Ranks agree on the largest micro-batch count (``all_max``) and a rank with fewer (or no)
trainable rows runs zero-loss passes (``0 x logits.sum()``: every parameter gets an exact-zero gradient, the
all-reduce still happens). Skip decisions (empty mini-batch, non-finite loss) are taken on global values, so every
rank steps or skips together.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from tandem_rl.cogen.rollouts import Rollouts


@dataclass
class Counts:
    n_tokens: float         # senior-written response tokens (the loss mask), all ranks
    n_junior_tokens: float  # junior-written response tokens, all ranks
    n_seqs: float           # sequences, all ranks
    world_size: int = 1     # gradient scale that undoes the backends' mean over ranks


def is_distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def launched_world_size() -> int:
    """Processes started by the launcher (accelerate launch / torchrun set WORLD_SIZE); 1 for a plain run."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without torch.distributed."""
    if is_distributed():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def rank_groups(prompts: int, mini_batches: int, world: int, rank: int) -> list[int]:
    """Positions (within the step) of the prompt groups that ``rank`` rolls out and trains on."""
    per_mb = prompts // mini_batches
    if prompts % mini_batches or per_mb % world:
        raise ValueError(f"train.prompts_per_step ({prompts}) / train.mini_batches ({mini_batches}) must be "
                         f"divisible by the number of processes ({world}): every rank needs an equal share of "
                         f"every mini-batch")
    per_rank = per_mb // world
    return [m * per_mb + rank * per_rank + j for m in range(mini_batches) for j in range(per_rank)]


def _reduce(values: list[float], op) -> list[float]:
    if not is_distributed():
        return [float(v) for v in values]
    t = torch.tensor(values, dtype=torch.float64)
    if torch.distributed.get_backend() == "nccl":
        t = t.cuda()
    torch.distributed.all_reduce(t, op=op)
    return t.cpu().tolist()


def all_sum(values: list[float]) -> list[float]:
    """Element-wise sum over ranks (identity without torch.distributed)."""
    return _reduce(values, torch.distributed.ReduceOp.SUM if is_distributed() else None)


def all_max(values: list[float]) -> list[float]:
    """Element-wise max over ranks."""
    return _reduce(values, torch.distributed.ReduceOp.MAX if is_distributed() else None)


def all_gather(obj) -> list:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` without torch.distributed."""
    if not is_distributed():
        return [obj]
    out = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(out, obj)
    return out


def mini_batch_counts(rollouts: Rollouts, rows: list[int], device=None) -> Counts:
    """Global denominators for ``rows`` (this rank's part of a mini-batch), all-reduced when distributed."""
    per_row = rollouts.senior_tokens()
    senior = sum(per_row[i] for i in rows)
    total = sum(len(rollouts.response_ids[i]) for i in rows)
    n_tok, n_jun, n_seq = all_sum([senior, total - senior, len(rows)])
    return Counts(n_tok, n_jun, n_seq, world()[1])
