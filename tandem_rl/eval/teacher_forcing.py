"""Teacher-forced token statistics: several models read the same (prompt, response) texts in one pass.

For each response token ``y_t`` (after the chat prefix ``x`` and ``y_<t``) every model gives a full next-token
distribution at temperature 1 (no top-k / top-p). From those:

- ``ce[name]``: cross-entropy of the text under ``name``, ``-log p_name(y_t | x, y_<t)`` (nats) - legibility;
- ``kl[(p, q)]``: ``KL(p || q) = sum_v p(v) (log p(v) - log q(v))`` over the whole vocabulary - drift;
- ``top[name]``: ``argmax_v p_name(v)`` - the token a model would write greedily there - displacement.

Worked example (one row, a 3-token response)::

    s = score_texts({"senior": senior, "junior": junior}, prompts=[[1, 5, 9]], responses=[[4, 7, 2]],
                    ce=["junior"], kl=[("senior", "junior")], top=["senior"])
    s.ce["junior"][0]              # array of 3 nats, one per response token
    s.kl[("senior", "junior")][0]  # array of 3 KLs
    s.top["senior"][0]             # array of 3 token ids

Rows are right-padded and packed into forward passes of at most ``token_budget`` padded tokens (longest first, so
padding stays small); every model runs on its own device and log-probs meet on the first model's device. Memory:
each model's ``[rows, width, vocab]`` logits of one pass (model dtype) plus one row's float32 log-probs per model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch


@dataclass
class TokenScores:
    """Per-row arrays (one value per response token) keyed by model name or by (p, q) model pair."""

    ce: dict[str, list[np.ndarray]] = field(default_factory=dict)
    kl: dict[tuple[str, str], list[np.ndarray]] = field(default_factory=dict)
    top: dict[str, list[np.ndarray]] = field(default_factory=dict)


def pack_rows(lengths: Sequence[int], token_budget: int) -> list[list[int]]:
    """Group row indices (longest first) so that ``rows * longest <= token_budget`` (a row alone may exceed it).

    >>> pack_rows([3, 10, 4, 9], token_budget=20)
    [[1, 3], [2, 0]]
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= token_budget:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def _device_of(model) -> torch.device:
    return next(model.parameters()).device


def _batch_logits(model, rows: list[list[int]], pad_id: int) -> torch.Tensor:
    """``[B, W, V]`` logits of the right-padded batch (in the model's dtype, on its device)."""
    device = _device_of(model)
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, :len(r)] = 1
    return model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False).logits


def _row_logprobs(logits: torch.Tensor, i: int, start: int, end: int, home: torch.device) -> torch.Tensor:
    """``[T_resp, V]`` float32 log-probs predicting row ``i``'s response tokens ``start..end-1``: the logits at
    position t predict token t+1, so positions ``start-1..end-2``."""
    return torch.log_softmax(logits[i, start - 1:end - 1].to(home).float(), dim=-1)


@torch.inference_mode()
def score_texts(models: Mapping[str, torch.nn.Module], prompts: Sequence[Sequence[int]],
                responses: Sequence[Sequence[int]], *, ce: Sequence[str] = (),
                kl: Sequence[tuple[str, str]] = (), top: Sequence[str] = (), token_budget: int = 8192,
                pad_token_id: int = 0, progress: bool = False, desc: str = "scoring") -> TokenScores:
    """Teacher-forced CE / full-vocabulary KL / argmax of ``responses`` after ``prompts`` under ``models``."""
    if len(prompts) != len(responses):
        raise ValueError(f"score_texts: {len(prompts)} prompts but {len(responses)} responses")
    for p in prompts:
        if len(p) == 0:
            raise ValueError("score_texts: an empty prompt (at least one token must precede the response)")
    needed = list(dict.fromkeys([*ce, *top, *(n for pair in kl for n in pair)]))
    for n in needed:
        if n not in models or models[n] is None:
            raise KeyError(f"score_texts: model {n!r} requested but not given (have {sorted(models)})")
    vocab = {n: models[n].get_output_embeddings().weight.shape[0] for n in needed}
    for p, q in kl:
        if vocab[p] != vocab[q]:
            raise ValueError(f"KL({p} || {q}) needs one vocabulary; sizes are {vocab[p]} and {vocab[q]}")
    scores = TokenScores(ce={n: [None] * len(prompts) for n in ce},
                         kl={pair: [None] * len(prompts) for pair in kl},
                         top={n: [None] * len(prompts) for n in top})
    rows = [list(p) + list(r) for p, r in zip(prompts, responses)]
    batches = pack_rows([len(r) for r in rows], token_budget)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(rows), desc=desc, unit="text")
    home = _device_of(models[needed[0]]) if needed else torch.device("cpu")
    for batch in batches:
        brows = [rows[i] for i in batch]
        starts = [len(prompts[i]) for i in batch]
        logits = {n: _batch_logits(models[n], brows, pad_token_id) for n in needed}
        for j, i in enumerate(batch):
            # one row at a time in float32: memory holds the batch's logits plus one row's log-probs per model
            lp = {n: _row_logprobs(logits[n], j, starts[j], len(brows[j]), home) for n in needed}
            target = torch.tensor(list(responses[i]), dtype=torch.long, device=home)
            for n in ce:
                scores.ce[n][i] = (-lp[n].gather(-1, target[:, None])[:, 0]).cpu().numpy()
            for p, q in kl:
                a, b = lp[p], lp[q]
                pa = a.exp()
                terms = torch.where(pa > 0, pa * (a - b), torch.zeros_like(a))  # 0 * log 0 = 0
                scores.kl[(p, q)][i] = terms.sum(-1).clamp_min(0.0).cpu().numpy()
            for n in top:
                scores.top[n][i] = lp[n].argmax(-1).cpu().numpy()
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    return scores
