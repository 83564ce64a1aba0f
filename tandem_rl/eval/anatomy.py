"""Error anatomy: the first thing that went wrong in a failed solution, and who wrote it.

Needs a step checker that reports where things are written (the world's ``tandem_rl.world.steps:check_steps`` does):
its result has ``steps`` (each with ``left``, ``result``, ``true``, ``left_span``, ``result_span``), ``answer`` and
``answer_span``. A checker that returns only ``(n_steps, n_false)`` gives faithfulness figures but no anatomy.

Reading a failed response from the start, the first failure is one of (``KINDS``):

| kind | what | the span whose author is reported |
|---|---|---|
| ``copy_error`` | a step's left operand is not the previous step's result | the left operand |
| ``false_step`` | a step's equation is false (``20 plus 8 is 27``) | the result |
| ``answer_differs`` | every step holds, but the boxed answer is not the last step's result | the answer |
| ``misread`` | every step holds, chained, the answer follows, and it is still wrong: a start value, operand or operation that is not the problem's, or a step left out or added | (none) |
| ``unchecked`` | a wrong answer after no checkable step (e.g. the world's terse notation: running values only) | (none) |
| ``truncated`` | no answer, the budget ran out; or (budget rule) no correct solution fits the budget, whatever failed first | (none) |
| ``no_answer`` | no answer, the model stopped | (none) |

The budget rule (issue 31): a failure that was decided by the budget is not a false step. Where the step checker
carries ``fits_budget(problem, text, tokenizer, max_new_tokens) -> bool | None`` (the world's does:
``tandem_rl/world/steps.py``; for the world "fits" means a correct solution in the notation the sample writes is
no longer than the budget), the evaluation passes its answer as ``fits``: ``False`` makes any failure of that
sample ``truncated``; ``True`` or ``None`` (unknown) leave the table above as it is. A sample that writes plain on
a 4-operation world problem (33 tokens, budget 32) and slips on step 2 then counts as truncated: it could not have
finished whatever it computed.

Worked example (a co-written text; ``authors`` per character, 1 = senior, 0 = junior)::

    >>> from tandem_rl.world.steps import check_steps
    >>> text = " 20 plus 8 is 27 .\\n\\n \\\\boxed{27}"
    >>> first_failure(check_steps(text), "eos")
    Failure(kind='false_step', span=(14, 16))
    >>> who_wrote((14, 16), [1] * 14 + [0] * (len(text) - 14))
    'junior'

A correct response has no failure (``None``); records store ``"none"`` for it, so that "not computed" (``None``)
stays distinguishable (``tandem_rl/eval/records.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

KINDS = ("copy_error", "false_step", "answer_differs", "misread", "unchecked", "truncated", "no_answer")
NO_FAILURE = "none"  # the record value of a correct response
AUTHORS = ("senior", "junior", "mixed")


@dataclass(frozen=True)
class Failure:
    kind: str
    span: Optional[tuple[int, int]]  # character offsets of what went wrong, when it is a piece of text


def supports_anatomy(check) -> bool:
    """Whether a step checker's result says where steps and answer are written."""
    return all(hasattr(check, a) for a in ("steps", "answer", "answer_span"))


def first_failure(check, finish_reason: str) -> Failure:
    """The first failure of a response already graded wrong, from its step check (see the module table)."""
    prev = None
    for step in check.steps:
        if prev is not None and step.left != prev.result:
            return Failure("copy_error", step.left_span)
        if not step.true:
            return Failure("false_step", step.result_span)
        prev = step
    if check.answer is None:
        return Failure("truncated" if finish_reason == "length" else "no_answer", None)
    if prev is None:
        return Failure("unchecked", None)
    if check.answer.strip() != str(prev.result):
        return Failure("answer_differs", check.answer_span)
    return Failure("misread", None)


def who_wrote(span: Optional[tuple[int, int]], authors: Sequence[int]) -> Optional[str]:
    """'senior' / 'junior' when one model wrote every character of ``span`` (``authors``: 1 = senior per
    character), 'mixed' when both did, None when there is no span (or it lies outside ``authors``)."""
    if span is None:
        return None
    who = set(authors[span[0]:span[1]])
    if not who or span[1] > len(authors):
        return None
    return "mixed" if len(who) > 1 else ("senior" if who == {1} else "junior")


def char_authors(segments: Sequence[Sequence]) -> list[int]:
    """Per-character authors from a record's ``segments`` (``[[1, "ab"], [0, "c"]]`` -> ``[1, 1, 0]``)."""
    return [int(a) for a, text in segments for _ in text]


def anatomy(check, text_authors: Sequence[int], finish_reason: str, correct: bool,
            fits: Optional[bool] = None) -> tuple[str, Optional[str]]:
    """``(kind, author)`` for a record: ``("none", None)`` when correct, else the first failure and who wrote it;
    ``fits=False`` (no correct solution fits the budget: the budget rule above) makes every failure ``truncated``.

    >>> from tandem_rl.world.steps import check_steps
    >>> check = check_steps(" 5 plus 1 is 6 .\\n\\n 7 minus 2 is 5 .\\n\\n \\\\boxed{5}")
    >>> anatomy(check, [1] * 40, "eos", False), anatomy(check, [1] * 40, "eos", False, fits=False)
    (('copy_error', 'senior'), ('truncated', None))
    """
    if correct:
        return NO_FAILURE, None
    if fits is False:  # the budget decided this sample before its arithmetic could (module docstring)
        return "truncated", None
    f = first_failure(check, finish_reason)
    return f.kind, who_wrote(f.span, text_authors)
