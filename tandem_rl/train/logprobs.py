"""Senior log-probs of the response tokens, by one forward pass over a :class:`TrainBatch`.

The policy's log-prob is ``log_softmax(logits / T)`` at the rollout temperature ``T`` (rollout.temperature), as
verl and TRL compute it: the ratio compares the same tempered distribution before and after an update. It is the
sampling distribution the senior drew from when top_p = 1 and top_k = 0 (the paper's training settings); with
truncation the engine's recorded log-probs differ from these and are only logged (``logprob_mismatch``).

Only the last ``R`` positions get logits (``logits_to_keep``), so the prompt never costs a vocabulary projection.
"""

from __future__ import annotations

import contextlib
from typing import Optional

import torch

from tandem_rl.train.batch import TrainBatch


def response_logits(model, batch: TrainBatch, vocab: Optional[int] = None) -> torch.Tensor:
    """Logits [B, R, V] predicting each response token (the last input column is not needed).

    ``vocab`` = the tokenizer's real vocabulary: padded embedding rows beyond it are dropped, as the engine does
    when sampling, so both see the same distribution.
    """
    r = batch.response_len
    out = model(input_ids=batch.input_ids[:, :-1], attention_mask=batch.attention_mask[:, :-1],
                position_ids=batch.position_ids[:, :-1], logits_to_keep=r, use_cache=False)
    return out.logits if vocab is None else out.logits[..., :vocab]


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    """``log_softmax(logits / T)[target]`` in float32, per position [B, R].

    >>> import torch, math
    >>> lp = token_logprobs(torch.tensor([[[0.0, math.log(3.0)]]]), torch.tensor([[1]]), 1.0)
    >>> round(float(lp), 4) == round(math.log(0.75), 4)
    True
    """
    logits = logits.float() / temperature
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


@torch.no_grad()
def masked_entropy(logits: torch.Tensor, mask: torch.Tensor, temperature: float) -> tuple[float, int]:
    """Sum of the tempered distribution's entropy over ``mask`` positions, and their count."""
    sel = logits[mask.bool()].float() / temperature
    if sel.numel() == 0:
        return 0.0, 0
    logp = torch.log_softmax(sel, dim=-1)
    return float(-(logp.exp() * logp).sum()), int(sel.shape[0])


@torch.no_grad()
def batch_logprobs(model, batch: TrainBatch, temperature: float, *, vocab: Optional[int] = None,
                   autocast=None) -> torch.Tensor:
    """No-grad log-probs [B, R] (for old / reference log-probs); ``autocast`` a context manager factory."""
    with (autocast() if autocast else contextlib.nullcontext()):
        return token_logprobs(response_logits(model, batch, vocab), batch.targets, temperature)


def split_rows(values: torch.Tensor, batch: TrainBatch, lengths: Optional[list[int]] = None) -> dict:
    """[B, R] tensor -> {row: float32 numpy array of that row's response length} (inverse of collate's padding)."""
    out = {}
    for k, row in enumerate(batch.rows):
        n = int(batch.response_mask[k].sum()) if lengths is None else lengths[k]
        out[row] = values[k, :n].float().cpu().numpy()
    return out
