"""``FunctionGrader``: your own reward rule in place of the math grader, with the same ``grade`` interface.

    from tandem_rl.rewards import FunctionGrader
    from tandem_rl.train.loop import train

    def exact(response: str, gold: str) -> float:        # any rule: 1.0 when the response ends with the gold
        return float(response.strip().endswith(gold))

    train(cfg, grader=FunctionGrader(exact))

The rule runs in this process, on trusted code only (yours): it gets the decoded response and the gold answer as
strings and returns a float. A rule that raises, or returns something that is not a finite number, stops with an
error naming the response's index, never a silent 0. ``extracted`` is the answer found in the configured format
(``answer_format``), so who wrote the answer is still reported when authorship is given.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from tandem_rl.rewards.authorship import answer_author
from tandem_rl.rewards.extract import extract_answer
from tandem_rl.rewards.grader import RewardResult


class FunctionGrader:
    """Grade with ``fn(response, gold) -> float``; usable wherever a ``GraderPool`` is (a context manager too).

    >>> g = FunctionGrader(lambda text, gold: float(gold in text))
    >>> [r.reward for r in g.grade(["so \\\\boxed{4}", "no"], ["4", "4"])]
    [1.0, 0.0]
    """

    def __init__(self, fn: Callable[[str, str], float]):
        if not callable(fn):
            raise TypeError(f"FunctionGrader needs a callable (response, gold) -> float, got {type(fn).__name__}")
        self.fn = fn

    def __enter__(self) -> "FunctionGrader":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def grade(self, responses: list[str], golds: list[str], *, answer_format: str = "boxed",
              char_authors: Optional[list[np.ndarray]] = None) -> list[RewardResult]:
        if len(responses) != len(golds):
            raise ValueError(f"{len(responses)} responses but {len(golds)} gold answers")
        out = []
        for i, (text, gold) in enumerate(zip(responses, golds)):
            try:
                value = float(self.fn(text, gold))
            except Exception as err:
                raise RuntimeError(f"reward function failed on response {i} ({text[:80]!r}...): {err}") from err
            if not math.isfinite(value):
                raise ValueError(f"reward function returned {value} for response {i}; rewards must be finite")
            span = extract_answer(text, answer_format)
            res = RewardResult(value, span.text if span else None, "function")
            if span is not None and char_authors is not None:
                res.answer_author = answer_author(char_authors[i], span.start, span.end)
            out.append(res)
        return out
