"""The policy update of one training step: mini-batches of prompt groups, micro-batches by token budget.

Per step (paper: 1 epoch, 2 mini-batches):

1. Old log-probs: the senior's tempered log-probs before any update, recomputed by a no-grad forward pass (verl and
   TRL do the same) for the rows that are updated after the first optimizer step. The first mini-batch of the
   first epoch is exactly on-policy, so there the old log-prob is the current one, detached (ratio 1), which
   saves a forward pass. Reference log-probs (only when ``grpo.beta > 0``) come from the frozen initial senior.
2. For each mini-batch: global denominators (``ranks.mini_batch_counts``), then per micro-batch a forward
   pass with gradient, ``grpo_loss`` (its share of the mini-batch loss) and ``backward``; then gradient clipping
   and one AdamW step. A non-finite loss or gradient norm skips that update (counted).

Data parallel (``parallel/``): each rank holds its slice of every mini-batch; denominators are global, the ranks
run the same number of backward passes (zero-loss passes pad a rank with fewer micro-batches), skip decisions are
global, and the statistics' sums are added over ranks before they are turned into means (``metrics.UpdateSums``).
Gradient forwards go through ``objs.policy`` (the senior as the backend wrapped it); no-grad forwards use
``objs.senior`` inside ``backend.gathered``, without collectives, so ranks may run different numbers. What differs
between backends (the per-pass sync, backward, clipping and the step) is the backend's: this file has no branch on it.

Rows that cannot carry gradient are never forwarded: a row whose advantage is 0 (zero-std group) or that holds no
senior token adds exactly 0 to the loss and the gradient, unless a KL term is on (or ``grpo.junior_weight`` puts its
junior tokens into the loss). They still count in the
mini-batch denominators, exactly as if they had been computed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from tandem_rl.cogen.rollouts import Rollouts
from tandem_rl.grpo.loss import grpo_loss
from tandem_rl.train.batch import TrainBatch, collate, plan_micro_batches
from tandem_rl.train.logprobs import batch_logprobs, masked_entropy, response_logits, split_rows, token_logprobs
from tandem_rl.train.metrics import UpdateStats, UpdateSums
from tandem_rl.train.parallel.ranks import Counts, all_max, all_sum, mini_batch_counts

__all__ = ["UpdateStats", "mini_batch_rows", "trainable_rows", "update_policy"]


def update_policy(objs, rollouts: Rollouts, advantages: np.ndarray, cfg, *, autocast, lr: float,
                  credit: Optional[list] = None) -> UpdateStats:
    """Run ``cfg.train.epochs`` x ``cfg.train.mini_batches`` AdamW updates of ``objs.senior`` on ``rollouts``.

    ``credit``: per row, a weight per response token on its advantage (``train/credit.py``); None = 1 everywhere."""
    t0 = time.perf_counter()
    g, t, par, opt = cfg.grpo, cfg.train, objs.parallel, objs.optimizer
    for group in opt.param_groups:
        group["lr"] = lr
    mb_rows = mini_batch_rows(len(rollouts), g.group_size, t.mini_batches)
    active = set(trainable_rows(rollouts, advantages, g, credit))
    inputs = _Inputs(rollouts, advantages, objs.tokenizer.pad_token_id, credit=credit)
    sums = UpdateSums()

    # 1. old and reference log-probs, before any update (the first mini-batch of the first epoch is on-policy)
    first = set(mb_rows[0])
    with par.gathered(objs.senior):  # ranks may run different numbers of these forwards
        inputs.old = _no_grad_logprobs(objs.senior, inputs, sorted(r for r in active if t.epochs > 1 or r not in first),
                                       objs, cfg, autocast, sums, objs.device)
    if g.beta > 0 and active:
        inputs.ref = _no_grad_logprobs(objs.reference, inputs, sorted(active), objs, cfg, autocast, sums,
                                       objs.reference.device)

    # 2. one AdamW step per mini-batch and epoch, taken or skipped by every rank together
    for epoch in range(t.epochs):
        for m, rows in enumerate(mb_rows):
            counts = mini_batch_counts(rollouts, rows, objs.device)
            rows_on = [r for r in rows if r in active]
            if all_sum([len(rows_on)])[0] == 0:  # nothing to train on any rank
                sums.empty_updates += 1
                continue
            opt.zero_grad(set_to_none=True)
            loss, finite = _accumulate_gradients(objs, inputs, rows, rows_on, counts, cfg, autocast, sums,
                                                 on_policy=epoch == 0 and m == 0, first_epoch=epoch == 0)
            norm = par.step(objs.senior, opt, finite=finite, grad_clip=t.grad_clip)
            if norm is None:  # a non-finite loss (any rank) or gradient norm: skipped on every rank
                opt.zero_grad(set_to_none=True)
                sums.nan_skips += 1
            else:
                sums.add_update(loss, norm)
    opt.zero_grad(set_to_none=True)
    return sums.stats(t0)


def mini_batch_rows(n_rows: int, group_size: int, mini_batches: int) -> list[list[int]]:
    """The rows of each mini-batch: consecutive whole prompt groups.

    >>> mini_batch_rows(8, group_size=2, mini_batches=2)
    [[0, 1, 2, 3], [4, 5, 6, 7]]
    """
    if n_rows % group_size:
        raise ValueError(f"{n_rows} rollouts do not split into groups of {group_size}")
    per_mb = n_rows // group_size // mini_batches * group_size
    return [list(range(m * per_mb, (m + 1) * per_mb)) for m in range(mini_batches)]


def trainable_rows(rollouts: Rollouts, advantages: np.ndarray, grpo_cfg, credit: Optional[list] = None) -> list[int]:
    """Rows that can contribute gradient."""
    out = []
    for i, (n_sen, a) in enumerate(zip(rollouts.senior_tokens(), rollouts.author)):
        n_jun = len(a) - n_sen
        credited = credit is None or advantages[i] > 0 or bool(np.any(credit[i]))  # credit scales negative ones
        policy = n_sen > 0 and ((advantages[i] != 0 and credited) or grpo_cfg.beta > 0)
        junior_kl = n_jun > 0 and grpo_cfg.lambda_jun > 0
        junior_pg = n_jun > 0 and grpo_cfg.junior_weight > 0 and advantages[i] != 0 and credited  # junior tokens in the loss
        if policy or junior_kl or junior_pg:
            out.append(i)
    return out


@dataclass
class _Inputs:
    """What every forward of one update reads."""

    rollouts: Rollouts
    advantages: np.ndarray
    pad_id: int
    old: Optional[dict] = None  # row -> senior log-probs before the update (rows trained after the first step)
    ref: Optional[dict] = None  # row -> reference log-probs (grpo.beta > 0)
    credit: Optional[list] = None  # row -> credit per token (train/credit.py)

    def batch(self, rows: list[int], device, *, logprobs: bool = False, on_policy: bool = False) -> TrainBatch:
        """The padded rows on ``device``; with ``logprobs``, their reference and (off-policy) old log-probs."""
        old = self.old if logprobs and not on_policy else None
        ref = self.ref if logprobs else None
        return collate(self.rollouts, rows, self.advantages, self.pad_id, old_logprob=old, ref_logprob=ref,
                       credit=self.credit).to(device)


def _no_grad_logprobs(model, inputs: _Inputs, rows: list[int], objs, cfg, autocast, sums: UpdateSums,
                      device) -> dict:
    out = {}
    for micro in plan_micro_batches(inputs.rollouts, rows, cfg.train.micro_batch_tokens):
        batch = inputs.batch(micro, device)
        lp = batch_logprobs(model, batch, cfg.rollout.temperature, vocab=len(objs.tokenizer), autocast=autocast)
        out.update(split_rows(lp, batch))
        sums.tokens += int(batch.attention_mask.sum())
    return out


def _accumulate_gradients(objs, inputs: _Inputs, rows: list[int], rows_on: list[int], counts: Counts, cfg, autocast,
                          sums: UpdateSums, *, on_policy: bool, first_epoch: bool) -> tuple[float, bool]:
    """Forward and backward of every micro-batch of this rank's trainable rows ``rows_on`` (of mini-batch ``rows``).
    Every rank runs the same number of passes: zero-loss passes pad a rank with fewer. Returns this rank's share of
    the mini-batch loss and whether all its losses were finite."""
    par, g, temp, vocab = objs.parallel, cfg.grpo, cfg.rollout.temperature, len(objs.tokenizer)
    policy = objs.policy if objs.policy is not None else objs.senior  # the senior as the backend wrapped it
    plan = plan_micro_batches(inputs.rollouts, rows_on, cfg.train.micro_batch_tokens) if rows_on else []
    n_passes = int(all_max([len(plan)])[0])
    loss, finite = 0.0, True
    for k in range(n_passes):
        last = k == n_passes - 1
        if k >= len(plan):  # lock-step padding: exact-zero gradient, same collectives as a real pass
            with par.sync(last):
                par.backward(_zero_loss(policy, inputs.batch(rows[:1], objs.device), vocab, autocast), last=last,
                             finite=finite)
            continue
        batch = inputs.batch(plan[k], objs.device, logprobs=True, on_policy=on_policy)
        with par.sync(last):
            with autocast():
                logits = response_logits(policy, batch, vocab)
                logp = token_logprobs(logits, batch.targets, temp)
            old = logp.detach() if on_policy else batch.old_logprob
            parts = grpo_loss(
                logp, old, batch.advantages, batch.loss_mask, agg=g.loss_agg, n_tokens=counts.n_tokens,
                n_seqs=counts.n_seqs, max_len=cfg.rollout.max_new_tokens, eps_low=g.clip_eps_low,
                eps_high=g.clip_eps_high, ref_logp=batch.ref_logprob, beta=g.beta, junior_mask=batch.junior_mask,
                junior_logp=batch.sampled_logprob, n_junior_tokens=counts.n_junior_tokens, lambda_jun=g.lambda_jun,
                dual_clip=g.dual_clip, junior_weight=g.junior_weight)
            value = float(parts.loss.detach())
            finite = finite and math.isfinite(value)
            par.backward(parts.loss * counts.world_size, last=last, finite=finite)
        loss += value
        sums.add_pass(parts, float(batch.junior_mask.sum()), int(batch.attention_mask.sum()))
        if first_epoch:
            entropy, n = masked_entropy(logits.detach(), batch.loss_mask, temp)
            diff = (batch.sampled_logprob - old).abs()[batch.loss_mask]
            sums.add_first_epoch(len(plan[k]), entropy, n, float(diff.sum()), int(diff.numel()))
        del logits, logp, parts
    return loss, finite


def _zero_loss(model, batch: TrainBatch, vocab: int, autocast) -> torch.Tensor:
    """A loss whose gradient is exactly zero for every parameter (keeps the ranks' backward passes in lock-step)."""
    with autocast():
        logits = response_logits(model, batch, vocab)
    return logits.float().sum() * 0.0
