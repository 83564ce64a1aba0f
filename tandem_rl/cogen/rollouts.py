"""The record that comes out of the co-generation engine: one batch of co-written responses.

Everything downstream (rewards, the trainer, evaluation, the report) reads this record; nothing re-derives
authorship. Rows are ragged (no padding): row ``i`` has ``len(response_ids[i])`` generated tokens and every
per-token array of that row has exactly that length.

Worked example (two rows, ``1`` = senior wrote the token, ``0`` = junior)::

    prompt_ids    = [[5, 9, 2], [7, 2]]
    response_ids  = [[11, 12, 13, 0], [21]]        # 0 = EOS, kept in the response
    author        = [array([1, 1, 0, 0]), array([0])]
    finish_reason = ["eos", "length"]
    senior_fraction() == 2 / 5
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

SENIOR = 1
JUNIOR = 0

FINISH_REASONS = ("eos", "length", "stop")

# Per-model compute the engine records in ``stats`` (summed over engine calls): wall seconds inside the model's
# forward passes, token positions those passes processed (padding and not-yet-dropped finished rows included:
# they cost compute) and parameters x positions (a FLOP proxy: ~2 FLOPs per parameter per position).
ROLES = ("senior", "junior")
FORWARD_STATS = tuple(f"{role}_{key}" for role in ROLES for key in ("forward_seconds", "positions", "param_tokens"))


@dataclass
class Rollouts:
    """One batch of co-written responses.

    Attributes:
        prompt_ids: per-row prompt token ids, unpadded.
        response_ids: per-row generated token ids, unpadded; a final EOS or stop token is included.
        author: per-row ``uint8`` arrays, ``1`` = the senior wrote the token, ``0`` = the junior.
        logprob: per-row ``float32`` arrays: log-prob of each token under the sampling distribution of the model
            that wrote it (after temperature / top-k / top-p), i.e. the exact probability it was drawn with.
        partner_logprob: per-row ``float32`` arrays: log-prob of the same token under the *other* model's raw
            distribution (temperature 1, no truncation, so always finite). ``nan`` where the other model was not
            run (the ``solo`` and ``junior`` schedules run one model only).
        finish_reason: per row, ``"eos"`` (an EOS id was emitted), ``"stop"`` (an extra stop id was emitted) or
            ``"length"`` (``max_new_tokens`` reached).
        stats: batch statistics from the engine (e.g. ``senior_fraction``, ``author_changes``, ``redraws``,
            ``decode_steps``, ``seconds``; pairs with different tokenizers add ``mixed_tokens``).
        char_author: None from the same-tokenizer engine (authorship is per token). From a pair with different
            tokenizers (``crosstok.py``): per row, ``(text, uint8 array)``, the decoded response and who wrote each
            character of it; per-token ``author`` is then 1 only where the senior wrote every byte of the token.
    """

    prompt_ids: list[list[int]]
    response_ids: list[list[int]]
    author: list[np.ndarray]
    logprob: list[np.ndarray]
    partner_logprob: list[np.ndarray]
    finish_reason: list[str]
    stats: dict = field(default_factory=dict)
    char_author: Optional[list[tuple[str, np.ndarray]]] = None

    def __post_init__(self) -> None:
        n = len(self.prompt_ids)
        for name in ("response_ids", "author", "logprob", "partner_logprob", "finish_reason"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Rollouts.{name} has {len(getattr(self, name))} rows, prompt_ids has {n}")
        for i, ids in enumerate(self.response_ids):
            for name in ("author", "logprob", "partner_logprob"):
                if len(getattr(self, name)[i]) != len(ids):
                    raise ValueError(f"Rollouts.{name}[{i}] has length {len(getattr(self, name)[i])}, "
                                     f"response_ids[{i}] has {len(ids)}")
        if self.char_author is not None and len(self.char_author) != n:
            raise ValueError(f"Rollouts.char_author has {len(self.char_author)} rows, prompt_ids has {n}")
        for r in self.finish_reason:
            if r not in FINISH_REASONS:
                raise ValueError(f"unknown finish_reason {r!r}; expected one of {FINISH_REASONS}")

    def __len__(self) -> int:
        return len(self.prompt_ids)

    def senior_fraction(self) -> float:
        """Share of all generated tokens in the batch written by the senior (``nan`` for an empty batch)."""
        total = sum(len(a) for a in self.author)
        return float(sum(self.senior_tokens()) / total) if total else float("nan")

    def senior_tokens(self) -> list[int]:
        """Per row, how many response tokens the senior wrote (the size of its loss mask)."""
        return [int((a == SENIOR).sum()) for a in self.author]

    def cost(self) -> dict:
        """What each role cost in this batch: tokens it *wrote* (the authorship sums) and the compute of its
        forward passes (``FORWARD_STATS``, 0 for a model that did not run; absent when the engine did not time).

        In lockstep both models process every token, whoever wrote it, so a model's compute follows the tokens
        processed, not the tokens it wrote::

            ro.cost()["senior_tokens_written"] == sum(ro.senior_tokens())
        """
        senior = sum(self.senior_tokens())
        out = {"senior_tokens_written": senior, "junior_tokens_written": sum(len(a) for a in self.author) - senior,
               "rows": len(self), "seconds": float(self.stats.get("seconds", 0.0))}
        out.update({k: self.stats[k] for k in FORWARD_STATS if k in self.stats})
        return out

    def author_changes(self) -> list[int]:
        """Per row, how many times the author differs from the previous token's author."""
        return [int(np.count_nonzero(np.diff(a.astype(np.int8)))) for a in self.author]

    def select(self, rows: list[int]) -> "Rollouts":
        """A new Rollouts holding only ``rows`` (in that order); stats are kept as they are."""
        return Rollouts(
            prompt_ids=[self.prompt_ids[i] for i in rows],
            response_ids=[self.response_ids[i] for i in rows],
            author=[self.author[i] for i in rows],
            logprob=[self.logprob[i] for i in rows],
            partner_logprob=[self.partner_logprob[i] for i in rows],
            finish_reason=[self.finish_reason[i] for i in rows],
            stats=dict(self.stats),
            char_author=None if self.char_author is None else [self.char_author[i] for i in rows],
        )

    @staticmethod
    def concat(parts: list["Rollouts"]) -> "Rollouts":
        """Join batches row-wise; numeric stats that are counts are summed, others taken from the first part."""
        if not parts:
            raise ValueError("Rollouts.concat needs at least one part")
        out = Rollouts([], [], [], [], [], [], {})
        for p in parts:
            out.prompt_ids += p.prompt_ids
            out.response_ids += p.response_ids
            out.author += p.author
            out.logprob += p.logprob
            out.partner_logprob += p.partner_logprob
            out.finish_reason += p.finish_reason
        if all(p.char_author is not None for p in parts):
            out.char_author = [c for p in parts for c in p.char_author]
        elif any(p.char_author is not None for p in parts):
            raise ValueError("Rollouts.concat: some parts have char_author and some do not (one generator per run)")
        out.stats = dict(parts[0].stats)
        for key in ("author_changes", "redraws", "decode_steps", "seconds", "tokens", "mixed_tokens", "healed",
                    *FORWARD_STATS):
            if all(key in p.stats for p in parts):
                out.stats[key] = sum(p.stats[key] for p in parts)
        out.stats["senior_fraction"] = out.senior_fraction()
        return out
