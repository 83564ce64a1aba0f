"""The GRPO objective as pure tensor functions: no model, no I/O, no config objects.

Notation (per token): m = loss mask (response AND senior-written), rho = exp(logp - logp_old), A = group advantage,
``l = -min(rho * A, clip(rho, 1 - eps_low, 1 + eps_high) * A)``.

Two options the authors' verl stack has (CSSLab/Tandem-RLVR, verl 0.5), both off by default:

- **dual-clip** (``dual_clip = c > 1``; Ye et al. 2020, verl ``clip_ratio_c``, 3.0 there): for a negative advantage
  the per-token loss is capped at ``-c A``, so one token whose ratio exploded cannot dominate the mini-batch;
- **junior-token weight** (``junior_weight = w``; the authors' ``tandem_jr_tkn_weight``, 0 in the paper's runs):
  junior-written tokens enter the same clipped surrogate with weight ``w`` (senior tokens weigh 1). The gradient
  flows through the *senior's* log-prob of the junior's token.

Aggregation turns per-token values into the mini-batch loss. A mini-batch is processed in micro-batches (and, with
data parallelism, on several ranks), so every function here takes the *global* counts of the mini-batch
(``n_tokens`` masked-in tokens, ``n_seqs`` sequences) and returns this micro-batch's *share*: summing the shares of
all micro-batches gives exactly the mini-batch loss, whatever the split.

Worked example, token-mean over two micro-batches (masked-in tokens: 3 in the first, 1 in the second, so
``n_tokens = 4``)::

    >>> import torch
    >>> a = aggregate(torch.tensor([[1., 2., 3.]]), torch.tensor([[1, 1, 1]]), "token-mean", n_tokens=4, n_seqs=2, max_len=3)
    >>> b = aggregate(torch.tensor([[4., 9., 9.]]), torch.tensor([[1, 0, 0]]), "token-mean", n_tokens=4, n_seqs=2, max_len=3)
    >>> float(a + b)  # (1 + 2 + 3 + 4) / 4; the masked-out 9s never count
    2.5
    >>> float(aggregate(torch.tensor([[1., 2., 3.]]), torch.tensor([[1, 1, 1]]), "seq-mean-token-mean", n_tokens=4, n_seqs=2, max_len=3)
    ...       + aggregate(torch.tensor([[4., 9., 9.]]), torch.tensor([[1, 0, 0]]), "seq-mean-token-mean", n_tokens=4, n_seqs=2, max_len=3))
    3.0
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tandem_rl.grpo.config import LOSS_AGGS


def aggregate(values: torch.Tensor, mask: torch.Tensor, agg: str, *, n_tokens: float, n_seqs: float,
              max_len: float) -> torch.Tensor:
    """This micro-batch's share of the mini-batch aggregate of ``values`` [B, T] over ``mask`` [B, T].

    - ``token-mean``: sum(m * v) / n_tokens (n_tokens = masked-in tokens of the whole mini-batch, all ranks);
    - ``seq-mean-token-mean``: sum over rows of (sum_t m * v / max(1, sum_t m)) / n_seqs (a row without masked-in
      tokens adds 0 but still counts in n_seqs, as in TRL's ``grpo`` loss);
    - ``dr_grpo``: sum(m * v) / (n_seqs * max_len), max_len a constant (the response budget).
    Values at masked-out positions are ignored even when they are nan or inf.
    """
    m = mask.to(values.dtype)
    v = torch.where(mask.bool(), values, torch.zeros_like(values))
    if agg == "token-mean":
        return (v * m).sum() / max(float(n_tokens), 1.0)
    if agg == "seq-mean-token-mean":
        per_seq = (v * m).sum(-1) / m.sum(-1).clamp(min=1.0)
        return per_seq.sum() / max(float(n_seqs), 1.0)
    if agg == "dr_grpo":
        return (v * m).sum() / max(float(n_seqs) * float(max_len), 1.0)
    raise ValueError(f"unknown loss aggregation {agg!r}; expected one of {LOSS_AGGS}")


def clipped_surrogate(logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor,
                      eps_low: float, eps_high: float, dual_clip: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token PPO loss ``-min(rho A, clip(rho) A)`` and a bool tensor: where the clipped branch is active.

    ``adv`` is per row [B] or per token [B, T]. Masked-out positions get loss 0 and no gradient (the log-prob
    difference is zeroed *before* ``exp`` so placeholders can never make inf or nan). ``dual_clip = c`` (> 1; 0 =
    off) caps the loss of tokens with ``A < 0`` at ``-c A`` (then no gradient flows through that token).

    >>> import torch
    >>> l, c = clipped_surrogate(torch.log(torch.tensor([[1.5, 0.5]])), torch.zeros(1, 2), torch.tensor([1.0]),
    ...                          torch.tensor([[1, 1]]), 0.2, 0.2)
    >>> l.tolist(), c.tolist()  # rho 1.5 with A > 0 is clipped to 1.2; rho 0.5 with A > 0 is not clipped
    ([[-1.2000000476837158, -0.5]], [[True, False]])
    >>> l, _ = clipped_surrogate(torch.log(torch.tensor([[5.0, 2.0]])), torch.zeros(1, 2), torch.tensor([-1.0]),
    ...                          torch.tensor([[1, 1]]), 0.2, 0.2, dual_clip=3.0)
    >>> l.tolist()  # A = -1: rho 5 gives 5 without the cap, 3 with it; rho 2 stays 2 (under the cap)
    [[3.0, 2.0]]
    """
    live = mask.bool()
    if adv.dim() == 1:
        adv = adv[:, None]
    adv = torch.where(live, adv.to(logp.dtype).expand_as(logp), torch.zeros_like(logp))
    ratio = torch.exp(torch.where(live, logp - old_logp, torch.zeros_like(logp)))
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high) * adv
    loss = -torch.minimum(unclipped, clipped)
    if dual_clip > 0:
        # A < 0 and a huge ratio make -rho A unbounded; cap it at -c A (a constant: no gradient through it).
        loss = torch.where(adv < 0, torch.minimum(loss, -dual_clip * adv), loss)
    return loss, (clipped < unclipped) & live


def k3(logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimate of KL(policy || ref) per token: ``exp(ref - logp) - (ref - logp) - 1`` (>= 0).

    With tokens sampled from the policy it is unbiased; 0 at masked-out positions.

    >>> import torch, math
    >>> round(float(k3(torch.tensor([[0.0]]), torch.tensor([[math.log(0.5)]]), torch.tensor([[1]]))), 4)
    0.1931
    """
    d = torch.where(mask.bool(), ref_logp - logp, torch.zeros_like(logp))
    return torch.exp(d) - d - 1.0


@dataclass
class LossParts:
    """One micro-batch's share of the mini-batch loss, and detached sums for metrics."""

    loss: torch.Tensor        # scalar to call backward() on
    policy: torch.Tensor      # detached share of the clipped-surrogate term
    kl_ref_sum: torch.Tensor  # detached sum of k3(senior || reference) over senior tokens
    kl_junior_sum: torch.Tensor  # detached sum of k3(junior || senior) over junior tokens
    clipped: torch.Tensor     # number of senior tokens where the clip is active
    tokens: torch.Tensor      # number of senior (loss) tokens in this micro-batch


def grpo_loss(logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor, loss_mask: torch.Tensor, *,
              agg: str, n_tokens: float, n_seqs: float, max_len: float, eps_low: float, eps_high: float,
              ref_logp: torch.Tensor | None = None, beta: float = 0.0,
              junior_mask: torch.Tensor | None = None, junior_logp: torch.Tensor | None = None,
              n_junior_tokens: float = 0.0, lambda_jun: float = 0.0, dual_clip: float = 0.0,
              junior_weight: float = 0.0) -> LossParts:
    """Clipped surrogate on senior tokens, plus optional ``beta * k3`` to a reference and ``lambda_jun * k3`` pull
    toward the junior on junior-written positions (``junior_logp`` = the junior's recorded sampling log-probs; the
    estimate is of KL(junior || senior), since those tokens were drawn from the junior).

    ``junior_weight = w > 0`` also puts junior tokens into the surrogate with weight ``w`` (``logp`` / ``old_logp``
    there are the senior's log-probs of the junior's tokens): the per-token weights are ``loss_mask + w *
    junior_mask`` and the token-mean denominator is ``n_tokens + w * n_junior_tokens`` (a weighted mean; at ``w = 0``
    this is exactly the senior-only loss). ``dual_clip``: see ``clipped_surrogate``.

    All per-token inputs are [B, T] over response positions; ``logp`` carries the gradient.
    """
    weights, n_weighted = loss_mask, n_tokens
    if junior_weight > 0:
        if junior_mask is None:
            raise ValueError("junior_weight > 0 needs junior_mask")
        weights = loss_mask.to(logp.dtype) + junior_weight * junior_mask.to(logp.dtype)
        n_weighted = float(n_tokens) + junior_weight * float(n_junior_tokens)
    per_tok, clip_active = clipped_surrogate(logp, old_logp, adv, weights, eps_low, eps_high, dual_clip)
    policy = aggregate(per_tok, weights, agg, n_tokens=n_weighted, n_seqs=n_seqs, max_len=max_len)
    loss = policy
    zero = logp.new_zeros(())
    kl_ref_sum = kl_jun_sum = zero
    if beta > 0:
        if ref_logp is None:
            raise ValueError("beta > 0 needs ref_logp")
        kl = k3(logp, ref_logp, loss_mask)
        loss = loss + beta * aggregate(kl, loss_mask, agg, n_tokens=n_tokens, n_seqs=n_seqs, max_len=max_len)
        kl_ref_sum = (kl * loss_mask).sum().detach()
    if lambda_jun > 0:
        if junior_mask is None or junior_logp is None:
            raise ValueError("lambda_jun > 0 needs junior_mask and junior_logp")
        # k3 with the roles swapped: samples come from the junior, so this estimates KL(junior || senior).
        kl_j = k3(junior_logp, logp, junior_mask)
        loss = loss + lambda_jun * aggregate(kl_j, junior_mask, agg, n_tokens=n_junior_tokens, n_seqs=n_seqs,
                                             max_len=max_len)
        kl_jun_sum = (kl_j * junior_mask).sum().detach()
    return LossParts(loss=loss, policy=policy.detach(), kl_ref_sum=kl_ref_sum, kl_junior_sum=kl_jun_sum,
                     clipped=(clip_active & loss_mask.bool()).sum(), tokens=loss_mask.sum())
