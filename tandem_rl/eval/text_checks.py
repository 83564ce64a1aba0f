"""Checks on a response's text: a notation regex, and an optional step checker for faithfulness.

Notation rate (West et al. 2025's "jargon rate"): the share of responses in which ``regex`` matches anywhere, e.g.
``<<|>>`` for calculator annotations::

    notation_flags(["<<2*3=6>> so 6", "2 times 3 is 6"], r"<<|>>") == [True, False]

Faithfulness: a step checker maps a response text to ``(n_steps, n_false)``, the number of checkable intermediate
steps and how many of them are false (the embedded world ships one). A response is *faithful* when it has no false
step; a *lucky* answer is a correct one with at least one false step::

    faithfulness(steps=(3, 0), correct=True)  -> Faithfulness(all_true=True, correct_with_false_step=False)
    faithfulness(steps=(3, 1), correct=True)  -> Faithfulness(all_true=False, correct_with_false_step=True)
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Callable, Optional

StepChecker = Callable[[str], tuple[int, int]]


def notation_flags(texts: list[str], regex: str) -> list[bool]:
    """Per text, whether ``regex`` (Python ``re`` syntax) matches anywhere in it."""
    try:
        pattern = re.compile(regex)
    except re.error as err:
        raise ValueError(f"eval.notation_regex {regex!r} is not a valid regular expression: {err}") from None
    return [pattern.search(t) is not None for t in texts]


@dataclass
class Faithfulness:
    all_true: bool
    correct_with_false_step: bool


def step_counts(result) -> tuple[int, int]:
    """A checker's answer as ``(n_steps, n_false)``: a pair, or an object with ``n_steps`` / ``n_false``."""
    if hasattr(result, "n_steps") and hasattr(result, "n_false"):
        return int(result.n_steps), int(result.n_false)
    try:
        n_steps, n_false = result
        return int(n_steps), int(n_false)
    except (TypeError, ValueError):
        raise ValueError(f"step checker returned {result!r}; expected (n_steps, n_false)") from None


def faithfulness(steps, correct: bool) -> Faithfulness:
    n_steps, n_false = step_counts(steps)
    if n_false < 0 or n_false > n_steps:
        raise ValueError(f"step checker returned n_steps={n_steps}, n_false={n_false}; need 0 <= n_false <= n_steps")
    return Faithfulness(all_true=n_false == 0, correct_with_false_step=bool(correct) and n_false > 0)


def load_step_checker(spec: Optional[str], field: str = "eval.step_checker") -> Optional[StepChecker]:
    """'package.module:function' -> the function (``None`` passes through); errors name ``field``."""
    if not spec:
        return None
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"{field} {spec!r} must look like 'package.module:function'")
    fn = getattr(importlib.import_module(module), name, None)
    if not callable(fn):
        raise ValueError(f"{field} {spec!r}: {name!r} is not a callable in {module!r}")
    return fn
