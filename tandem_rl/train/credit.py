"""Which senior tokens a rollout's reward is credited to. Off by default: all of them (GRPO, the paper).

Two designs aimed at what costs a senior accuracy next to a weaker junior (docs/sweep.md "Why a weaker junior costs
accuracy"), both reading each failed rollout's first error with a step checker (``grpo.step_checker``;
``tandem_rl/eval/anatomy.py`` defines the first error and who wrote it):

- ``grpo.skip_junior_errors``: a failed rollout whose first error the junior wrote gets credit 0 on every token;
- ``grpo.credit_from_first_error``: in a failed rollout, the tokens that end before its first error get credit 0.

Credit multiplies a negative advantage per token (rewards 0/1: every failed rollout's; a positive advantage is never
reduced); a token with credit 0 adds nothing to the policy gradient but still counts in the loss's token denominator
(as the tokens of a zero-advantage group do), and ``grpo.beta``'s KL term still applies to it. Worked example (credit
from the first error; the senior wrote every token; the false result "27" starts at character 14)::

    >>> from tandem_rl.eval.anatomy import first_failure
    >>> from tandem_rl.world.steps import check_steps
    >>> f = first_failure(check_steps(" 20 plus 8 is 27 ."), "eos")
    >>> ends = [3, 8, 10, 13, 16, 18]            # character end of each token: ' 20', ' plus', ' 8', ' is', ...
    >>> row_credit(f, "senior", 6, lambda c: sum(e <= c for e in ends), skip_junior_errors=False,
    ...            from_first_error=True).tolist()
    [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from tandem_rl.eval.anatomy import first_failure, supports_anatomy, who_wrote
from tandem_rl.eval.summary import CORRECT  # a rollout below this reward failed (rewards are 0/1 in the paper)
from tandem_rl.eval.text_checks import load_step_checker
from tandem_rl.rewards.authorship import decode_kwargs

@dataclass
class CreditCounts:
    """Per step (this rank's rollouts): failed rollouts by who wrote their first error, and what credit changed."""

    first_error_by_senior: int = 0
    first_error_by_junior: int = 0
    first_error_by_mixed: int = 0
    first_error_unlocated: int = 0  # no span: truncated, no answer, misread, unchecked
    rows_skipped: int = 0  # failed rollouts whose every token got credit 0
    tokens_zeroed: int = 0  # senior tokens of the others that got credit 0

    def add(self, who: Optional[str]) -> None:
        name = "first_error_unlocated" if who is None else f"first_error_by_{who}"
        setattr(self, name, getattr(self, name) + 1)

    def as_metrics(self) -> dict:
        return {"first_error_by_senior": self.first_error_by_senior, "first_error_by_junior": self.first_error_by_junior,
                "first_error_by_mixed": self.first_error_by_mixed, "first_error_unlocated": self.first_error_unlocated,
                "credit_rows_skipped": self.rows_skipped, "credit_tokens_zeroed": self.tokens_zeroed}


def token_ends(tokenizer, ids: Sequence[int], text: str, upto: int) -> int:
    """How many leading tokens of ``ids`` decode to a prefix of ``text`` no longer than ``upto`` characters (the
    tokens wholly before character ``upto``). Binary search over decoded prefixes, then back off until the prefix is
    exact (a prefix that ends inside a multi-byte character decodes to a replacement character, not a prefix)."""
    kw = decode_kwargs()
    lo, hi = 0, len(ids)
    while lo < hi:  # the largest k with len(decode(ids[:k])) <= upto
        mid = (lo + hi + 1) // 2
        if len(tokenizer.decode(list(ids[:mid]), **kw)) <= upto:
            lo = mid
        else:
            hi = mid - 1
    while lo > 0 and not text.startswith(tokenizer.decode(list(ids[:lo]), **kw)):
        lo -= 1
    return lo


def row_credit(failure, who: Optional[str], n_tokens: int, tokens_before, *, skip_junior_errors: bool,
               from_first_error: bool) -> np.ndarray:
    """Credit per token of one failed rollout (float32, 1 = full credit): ``failure`` its first failure
    (``anatomy.first_failure``), ``who`` wrote it, ``tokens_before(c)`` = how many tokens end by character ``c``."""
    credit = np.ones(n_tokens, dtype=np.float32)
    if skip_junior_errors and who == "junior":
        credit[:] = 0.0
    elif from_first_error and failure.span is not None:
        credit[:tokens_before(failure.span[0])] = 0.0
    return credit


@dataclass
class Credit:
    """The credit settings of a run, its step checker loaded once."""

    checker: Optional[object] = None
    skip_junior_errors: bool = False
    from_first_error: bool = False
    counts: CreditCounts = field(default_factory=CreditCounts)

    @classmethod
    def from_config(cls, grpo_cfg) -> "Credit":
        checker = load_step_checker(grpo_cfg.step_checker, "grpo.step_checker")
        if checker is not None and not supports_anatomy(checker("")):  # fail before any model loads
            raise ValueError(f"grpo.step_checker {grpo_cfg.step_checker!r} does not say where steps and the answer "
                             "are written (its result needs steps, answer, answer_span; e.g. "
                             "'tandem_rl.world.steps:check_steps')")
        return cls(checker, grpo_cfg.skip_junior_errors, grpo_cfg.credit_from_first_error)

    @property
    def active(self) -> bool:
        return self.skip_junior_errors or self.from_first_error

    def weights(self, tokenizer, rollouts, texts: list[str], char_authors: list, rewards) -> Optional[list]:
        """Per row, the credit of each response token (None when no design is on); counts go to ``self.counts``
        (reset per call). ``rewards``: the grader's own (a row below ``CORRECT`` failed)."""
        self.counts = CreditCounts()
        if self.checker is None:
            return None
        out = []
        for i, (text, authors) in enumerate(zip(texts, char_authors)):
            ids, n = rollouts.response_ids[i], len(rollouts.response_ids[i])
            failed = float(rewards[i]) < CORRECT
            check = self.checker(text) if failed else None
            if failed and not supports_anatomy(check):
                raise ValueError(f"grpo.step_checker returned {type(check).__name__}, which does not say where "
                                 "steps and the answer are written (needs steps, answer, answer_span)")
            credit = np.ones(n, dtype=np.float32)
            if failed:
                f = first_failure(check, rollouts.finish_reason[i])
                who = who_wrote(f.span, authors)
                self.counts.add(who)
                credit = row_credit(f, who, n, lambda c: token_ends(tokenizer, ids, text, c),
                                    skip_junior_errors=self.skip_junior_errors, from_first_error=self.from_first_error)
                if not credit.any() and n:
                    self.counts.rows_skipped += 1
                else:
                    self.counts.tokens_zeroed += int((np.asarray(rollouts.author[i]).astype(bool) & (credit == 0)).sum())
            out.append(credit)
        return out if self.active else None
