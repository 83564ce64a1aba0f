"""Rollouts + advantages -> padded tensors, built once, in one place. Nothing after this re-derives a mask.

Layout: prompts are *left*-padded and responses *right*-padded, so every response starts at the same column ``P``
and the model only needs logits for the last ``R`` positions (``logits_to_keep``). Position ids count real tokens
only, so padding never shifts positions.

Worked example (pad = 0; row 0 prompt [5, 6], response [7, 8] written senior, junior; row 1 prompt [9], response
[4] written by the senior; advantages [0.5, -1.0])::

    input_ids      = [[5, 6, 7, 8],        attention_mask = [[1, 1, 1, 1],     position_ids = [[0, 1, 2, 3],
                      [0, 9, 4, 0]]                          [0, 1, 1, 0]]                     [0, 0, 1, 1]]
    targets        = [[7, 8], [4, 0]]      response_mask  = [[1, 1], [1, 0]]
    loss_mask      = [[1, 0], [1, 0]]      (response AND senior)
    junior_mask    = [[0, 1], [0, 0]]      (response AND junior)
    advantages     = [0.5, -1.0]

Micro-batches are sets of rows whose padded size (rows x (longest prompt + longest response)) fits a token budget;
they only change memory and speed, never the loss (the aggregation uses mini-batch-wide counts).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional

import numpy as np
import torch

from tandem_rl.cogen.rollouts import SENIOR, Rollouts


@dataclass
class TrainBatch:
    """Padded tensors for one micro-batch. Response-aligned tensors are [B, R]; sequence tensors [B, P + R]."""

    rows: list[int]                 # row indices into the step's Rollouts
    input_ids: torch.Tensor         # [B, P + R] long
    attention_mask: torch.Tensor    # [B, P + R] long
    position_ids: torch.Tensor      # [B, P + R] long
    targets: torch.Tensor           # [B, R] long: the response tokens (pad id past the end)
    response_mask: torch.Tensor     # [B, R] bool
    loss_mask: torch.Tensor         # [B, R] bool: response AND senior-written
    junior_mask: torch.Tensor       # [B, R] bool: response AND junior-written
    advantages: torch.Tensor        # [B] float32, or [B, R] with per-token credit (train/credit.py)
    sampled_logprob: torch.Tensor   # [B, R] float32: author's sampling log-prob from the engine (0 when masked)
    old_logprob: Optional[torch.Tensor] = None  # [B, R] senior log-probs before this step's first update
    ref_logprob: Optional[torch.Tensor] = None  # [B, R] reference (initial senior) log-probs

    @property
    def response_len(self) -> int:
        return self.targets.shape[1]

    def to(self, device) -> "TrainBatch":
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = v.to(device) if isinstance(v, torch.Tensor) else v
        return TrainBatch(**kw)


def _pad_ragged(arrays: list, width: int, fill, dtype, left: bool = False) -> torch.Tensor:
    out = torch.full((len(arrays), width), fill, dtype=dtype)
    for i, a in enumerate(arrays):
        n = len(a)
        if n:
            t = torch.as_tensor(np.asarray(a), dtype=dtype)
            if left:
                out[i, width - n:] = t
            else:
                out[i, :n] = t
    return out


def collate(rollouts: Rollouts, rows: list[int], advantages, pad_id: int, *,
            old_logprob: Optional[dict] = None, ref_logprob: Optional[dict] = None,
            credit: Optional[list] = None) -> TrainBatch:
    """Build the :class:`TrainBatch` of ``rows``. ``advantages`` is indexed by row; ``old_logprob`` /
    ``ref_logprob`` map a row to its per-token array (ragged, response length); ``credit`` (indexed by row, per
    token) makes the advantages per token, ``advantage x credit`` [B, R] (``train/credit.py``)."""
    prompts = [rollouts.prompt_ids[i] for i in rows]
    responses = [rollouts.response_ids[i] for i in rows]
    p_len = max(len(p) for p in prompts)
    r_len = max(1, max(len(r) for r in responses))
    prompt_t = _pad_ragged(prompts, p_len, pad_id, torch.long, left=True)
    prompt_m = _pad_ragged([np.ones(len(p)) for p in prompts], p_len, 0, torch.long, left=True)
    resp_t = _pad_ragged(responses, r_len, pad_id, torch.long)
    resp_m = _pad_ragged([np.ones(len(r)) for r in responses], r_len, 0, torch.long)
    author = _pad_ragged([rollouts.author[i] for i in rows], r_len, 0, torch.long)
    response_mask = resp_m.bool()
    attention = torch.cat([prompt_m, resp_m], dim=1)
    positions = (attention.cumsum(dim=1) - 1).clamp(min=0)

    def ragged(source) -> Optional[torch.Tensor]:
        if source is None:
            return None
        return _pad_ragged([np.nan_to_num(source[i], nan=0.0) for i in rows], r_len, 0.0, torch.float32)

    return TrainBatch(
        rows=list(rows),
        input_ids=torch.cat([prompt_t, resp_t], dim=1),
        attention_mask=attention,
        position_ids=positions,
        targets=resp_t,
        response_mask=response_mask,
        loss_mask=response_mask & (author == SENIOR),
        junior_mask=response_mask & (author != SENIOR),
        advantages=_advantages(advantages, rows, credit, r_len),
        sampled_logprob=ragged(rollouts.logprob),
        old_logprob=ragged(old_logprob),
        ref_logprob=ragged(ref_logprob),
    )


def _advantages(advantages, rows: list[int], credit: Optional[list], r_len: int) -> torch.Tensor:
    """[B] per row, or [B, R] per token when ``credit`` is given: a negative advantage times the token's credit, a
    positive one unchanged (0 past a row's end)."""
    adv = torch.tensor([float(advantages[i]) for i in rows], dtype=torch.float32)
    if credit is None:
        return adv
    weight = _pad_ragged([credit[i] for i in rows], r_len, 0.0, torch.float32)
    inside = _pad_ragged([np.ones(len(credit[i])) for i in rows], r_len, 0.0, torch.float32)
    return adv[:, None] * torch.where(adv[:, None] < 0, weight, inside)


def plan_micro_batches(rollouts: Rollouts, rows: list[int], token_budget: int) -> list[list[int]]:
    """Split ``rows`` into micro-batches whose padded size fits ``token_budget``; longest rows first.

    >>> r = Rollouts([[1]] * 3, [[2] * 5, [2] * 2, [2] * 3], [np.ones(n, np.uint8) for n in (5, 2, 3)],
    ...              [np.zeros(n, np.float32) for n in (5, 2, 3)], [np.zeros(n, np.float32) for n in (5, 2, 3)],
    ...              ["length"] * 3)
    >>> plan_micro_batches(r, [0, 1, 2], token_budget=8)   # sizes 1 + 5 = 6; two rows of 1 + 3 = 8
    [[0], [2, 1]]
    """
    order = sorted(rows, key=lambda i: -(len(rollouts.prompt_ids[i]) + len(rollouts.response_ids[i])))
    batches: list[list[int]] = []
    cur: list[int] = []
    p_max = r_max = 0
    for i in order:
        p, r = len(rollouts.prompt_ids[i]), len(rollouts.response_ids[i])
        np_, nr = max(p_max, p), max(r_max, r)
        if cur and (len(cur) + 1) * (np_ + nr) > token_budget:
            batches.append(cur)
            cur, np_, nr = [], p, r
        cur.append(i)
        p_max, r_max = np_, nr
    if cur:
        batches.append(cur)
    return batches
