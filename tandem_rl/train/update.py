"""The policy update of one training step: mini-batches of prompt groups, micro-batches by token budget.

Per step (paper: 1 epoch, 2 mini-batches):

1. Old log-probs: the senior's tempered log-probs before any update, recomputed by a no-grad forward pass (verl and
   TRL do the same) for the rows that are updated after the first optimizer step. The first mini-batch of the
   first epoch is exactly on-policy, so there the old log-prob is the current one, detached (ratio 1), which
   saves a forward pass. Reference log-probs (only when ``grpo.beta > 0``) come from the frozen initial senior.
2. For each mini-batch: global denominators (``distributed.mini_batch_counts``), then per micro-batch a forward
   pass with gradient, ``grpo_loss`` (its share of the mini-batch loss) and ``backward``; then gradient clipping
   and one AdamW step. A non-finite loss or gradient norm skips that update (counted).

Data parallel (``distributed.py``): each rank holds its slice of every mini-batch; denominators are global, the
ranks run the same number of backward passes (zero-loss passes pad a rank with fewer micro-batches), skip
decisions are global, and the statistics' sums are added over ranks before they are turned into means. Gradient
forwards go through ``objs.policy`` (the DDP wrapper, the FSDP2 module or the DeepSpeed engine); no-grad forwards use
the plain ``objs.senior`` (FSDP2, ZeRO-3: inside ``sharding.full_weights``), without collectives, so ranks may run
different numbers. DeepSpeed's engine owns backward, clipping and the step (``deepspeed_zero.backward`` / ``step``).

Rows that cannot carry gradient are never forwarded: a row whose advantage is 0 (zero-std group) or that holds no
senior token adds exactly 0 to the loss and the gradient, unless a KL term is on. They still count in the
mini-batch denominators, exactly as if they had been computed.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from tandem_rl.cogen.rollouts import SENIOR, Rollouts
from tandem_rl.grpo.loss import grpo_loss
from tandem_rl.train import deepspeed_zero
from tandem_rl.train.batch import collate, plan_micro_batches
from tandem_rl.train.distributed import all_max, all_sum, mini_batch_counts
from tandem_rl.train.logprobs import batch_logprobs, masked_entropy, response_logits, split_rows, token_logprobs
from tandem_rl.train.sharding import full_weights


@dataclass
class UpdateStats:
    loss: float = 0.0             # sum over updates of the mini-batch loss, / updates
    policy_loss: float = 0.0
    kl_ref: float = 0.0           # mean k3 per senior token
    kl_junior: float = 0.0        # mean k3 per junior token (when lambda_jun > 0)
    clip_frac: float = 0.0        # share of senior tokens where the clip is active
    entropy: float = float("nan")  # mean tempered entropy on senior tokens (first epoch)
    logprob_mismatch: float = float("nan")  # mean |engine log-prob - recomputed old log-prob| on senior tokens
    grad_norm: float = float("nan")  # mean pre-clip gradient norm over the updates taken
    updates: int = 0              # optimizer steps taken
    empty_updates: int = 0        # mini-batches with no row able to carry gradient (no step taken)
    nan_skips: int = 0            # updates skipped for a non-finite loss or gradient
    trained_rows: int = 0         # rows forwarded with gradient (first epoch)
    tokens: int = 0               # real tokens forwarded (all passes)
    seconds: float = 0.0


def trainable_rows(rollouts: Rollouts, advantages: np.ndarray, grpo_cfg) -> list[int]:
    """Rows that can contribute gradient."""
    out = []
    for i, a in enumerate(rollouts.author):
        n_sen = int((a == SENIOR).sum())
        n_jun = len(a) - n_sen
        policy = n_sen > 0 and (advantages[i] != 0 or grpo_cfg.beta > 0)
        junior_kl = n_jun > 0 and grpo_cfg.lambda_jun > 0
        if policy or junior_kl:
            out.append(i)
    return out


def _no_grad_logprobs(model, rollouts, rows, advantages, cfg, vocab, autocast, pad_id, device) -> tuple[dict, int]:
    out, tokens = {}, 0
    for micro in plan_micro_batches(rollouts, rows, cfg.train.micro_batch_tokens):
        batch = collate(rollouts, micro, advantages, pad_id).to(device)
        lp = batch_logprobs(model, batch, cfg.rollout.temperature, vocab=vocab, autocast=autocast)
        out.update(split_rows(lp, batch))
        tokens += int(batch.attention_mask.sum())
    return out, tokens


def update_policy(objs, rollouts: Rollouts, advantages: np.ndarray, cfg, *, autocast, lr: float) -> UpdateStats:
    """Run ``cfg.train.epochs`` x ``cfg.train.mini_batches`` AdamW updates of ``objs.senior`` on ``rollouts``."""
    t0 = time.perf_counter()
    g, t = cfg.grpo, cfg.train
    senior, opt, device = objs.senior, objs.optimizer, objs.device
    policy = getattr(objs, "policy", None) or senior  # the DDP wrapper when data parallel
    engine = deepspeed_zero.engine_of(policy)        # DeepSpeed: its engine runs backward, clipping and the step
    no_sync = getattr(policy, "no_sync", None) if engine is None else None  # DDP: all-reduce on the last backward only
    pad_id, vocab, temp = objs.tokenizer.pad_token_id, len(objs.tokenizer), cfg.rollout.temperature
    for group in opt.param_groups:
        group["lr"] = lr
    n = len(rollouts)
    if n % g.group_size:
        raise ValueError(f"{n} rollouts do not split into groups of {g.group_size}")
    groups = n // g.group_size
    per_mb = groups // t.mini_batches
    mb_rows = [list(range(m * per_mb * g.group_size, (m + 1) * per_mb * g.group_size)) for m in range(t.mini_batches)]
    active = set(trainable_rows(rollouts, advantages, g))
    stats = UpdateStats()

    # 1. old and reference log-probs, before any update
    first = set(mb_rows[0])
    need_old = sorted(r for r in active if t.epochs > 1 or r not in first)
    old, tok = {}, 0
    with full_weights(senior):  # FSDP2: ranks may run different numbers of these forwards
        if need_old:
            old, tok = _no_grad_logprobs(senior, rollouts, need_old, advantages, cfg, vocab, autocast, pad_id, device)
    stats.tokens += tok
    ref = None
    if g.beta > 0 and active:
        ref, tok = _no_grad_logprobs(objs.reference, rollouts, sorted(active), advantages, cfg, vocab, autocast,
                                     pad_id, objs.reference.device)
        stats.tokens += tok

    sums = dict(loss=0.0, policy=0.0, kl_ref=0.0, kl_jun=0.0, clipped=0.0, sen_tokens=0.0, jun_tokens=0.0,
                ent=0.0, ent_n=0, mis=0.0, mis_n=0, gnorm=0.0)
    params = [p for p in senior.parameters() if p.requires_grad]
    for epoch in range(t.epochs):
        for m, rows in enumerate(mb_rows):
            counts = mini_batch_counts(rollouts, rows, device)
            rows_on = [r for r in rows if r in active]
            plan = plan_micro_batches(rollouts, rows_on, t.micro_batch_tokens) if rows_on else []
            n_on, = all_sum([len(rows_on)])
            if n_on == 0:  # nothing to train on any rank: all ranks skip together
                stats.empty_updates += 1
                continue
            n_passes = int(all_max([len(plan)])[0])
            opt.zero_grad(set_to_none=True)
            mb_loss, finite = 0.0, True
            on_policy = epoch == 0 and m == 0
            for k in range(n_passes):
                last = k == n_passes - 1
                # DDP decides at forward time whether the next backward all-reduces; only the last one does
                sync = contextlib.nullcontext if no_sync is None or last else no_sync
                if engine is not None:
                    engine.set_gradient_accumulation_boundary(last)  # likewise: only the last pass reduces + steps
                backward = _backward(engine, last)
                if k >= len(plan):  # lock-step padding: exact-zero gradient, same collectives as a real pass
                    with sync():
                        _zero_pass(policy, collate(rollouts, rows[:1], advantages, pad_id).to(device), vocab, autocast,
                                   lambda loss: backward(loss, finite))
                    continue
                micro = plan[k]
                batch = collate(rollouts, micro, advantages, pad_id, old_logprob=None if on_policy else old,
                                ref_logprob=ref).to(device)
                with sync(), autocast():
                    logits = response_logits(policy, batch, vocab)
                    logp = token_logprobs(logits, batch.targets, temp)
                old_lp = logp.detach() if on_policy else batch.old_logprob
                parts = grpo_loss(
                    logp, old_lp, batch.advantages, batch.loss_mask, agg=g.loss_agg, n_tokens=counts.n_tokens,
                    n_seqs=counts.n_seqs, max_len=cfg.rollout.max_new_tokens, eps_low=g.clip_eps_low,
                    eps_high=g.clip_eps_high, ref_logp=batch.ref_logprob, beta=g.beta, junior_mask=batch.junior_mask,
                    junior_logp=batch.sampled_logprob, n_junior_tokens=counts.n_junior_tokens,
                    lambda_jun=g.lambda_jun)
                value = float(parts.loss.detach())
                finite = finite and math.isfinite(value)
                with sync():
                    backward(parts.loss * counts.world_size, finite)
                mb_loss += value
                sums["policy"] += float(parts.policy)
                sums["kl_ref"] += float(parts.kl_ref_sum)
                sums["kl_jun"] += float(parts.kl_junior_sum)
                sums["clipped"] += float(parts.clipped)
                sums["sen_tokens"] += float(parts.tokens)
                sums["jun_tokens"] += float(batch.junior_mask.sum())
                stats.tokens += int(batch.attention_mask.sum())
                if epoch == 0:
                    stats.trained_rows += len(micro)
                    e, k = masked_entropy(logits.detach(), batch.loss_mask, temp)
                    sums["ent"] += e
                    sums["ent_n"] += k
                    ref_old = logp.detach() if on_policy else batch.old_logprob
                    diff = (batch.sampled_logprob - ref_old).abs()[batch.loss_mask]
                    sums["mis"] += float(diff.sum())
                    sums["mis_n"] += int(diff.numel())
                del logits, logp, parts
            if engine is not None:  # clips at train.grad_clip and steps; a bad loss anywhere made the norm NaN: skipped
                norm, bad = deepspeed_zero.step(engine), 0.0
            else:
                max_norm = t.grad_clip if t.grad_clip > 0 else float("inf")
                norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))  # of the all-reduced gradient
                bad, = all_sum([0.0 if finite else 1.0])  # any rank's non-finite loss skips the update everywhere
            if bad or not math.isfinite(norm):
                opt.zero_grad(set_to_none=True)
                stats.nan_skips += 1
                continue
            if engine is None:
                opt.step()
            stats.updates += 1
            sums["loss"] += mb_loss
            sums["gnorm"] += norm
    opt.zero_grad(set_to_none=True)
    keys = ("policy", "kl_ref", "kl_jun", "clipped", "sen_tokens", "jun_tokens", "ent", "ent_n", "mis", "mis_n")
    extra = [float(stats.tokens), float(stats.trained_rows)]
    totals = all_sum([sums[x] for x in keys] + extra)  # losses are shares of global means: they add up too
    sums.update(zip(keys, totals[:len(keys)]))
    sums["loss"], = all_sum([sums["loss"]])
    stats.tokens, stats.trained_rows = int(totals[-2]), int(totals[-1])
    k = max(stats.updates, 1)
    stats.loss, stats.grad_norm = sums["loss"] / k, (sums["gnorm"] / k if stats.updates else float("nan"))
    stats.policy_loss = sums["policy"] / max(stats.updates + stats.nan_skips, 1)
    stats.kl_ref = sums["kl_ref"] / max(sums["sen_tokens"], 1.0)
    stats.kl_junior = sums["kl_jun"] / max(sums["jun_tokens"], 1.0)
    stats.clip_frac = sums["clipped"] / max(sums["sen_tokens"], 1.0)
    stats.entropy = sums["ent"] / sums["ent_n"] if sums["ent_n"] else float("nan")
    stats.logprob_mismatch = sums["mis"] / sums["mis_n"] if sums["mis_n"] else float("nan")
    stats.seconds, = all_max([time.perf_counter() - t0])
    return stats


def _backward(engine, last: bool):
    """``backward(loss, finite)`` for one pass: ``loss.backward()``, or DeepSpeed's (``deepspeed_zero.backward``)."""
    if engine is None:
        return lambda loss, finite: loss.backward()
    return lambda loss, finite: deepspeed_zero.backward(engine, loss, last=last, finite=finite)


def _zero_pass(model, batch, vocab: int, autocast, backward) -> None:
    """A forward/backward whose gradient is exactly zero for every parameter (keeps DDP ranks in lock-step)."""
    with autocast():
        logits = response_logits(model, batch, vocab)
    backward(logits.float().sum() * 0.0)
