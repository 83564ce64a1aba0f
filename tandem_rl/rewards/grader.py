"""The grader chain for one response, as plain functions (the pool in ``pool.py`` adds processes and timeouts).

Reward = 1 iff the final answer of the response equals the gold answer; no format reward (Jiao et al., arXiv
2606.28166, "Reward"). Equality is decided by the first stage that says "equal":

1. ``string``: normalised strings match (``normalize.py``);
2. ``symbolic``: both are simple numbers and are equal (``numeric.py``; our own parser, nothing is evaluated);
3. ``math_verify``: ``verify(parse(gold), parse(pred))``, gold first (math-verify 0.9.0 + latex2sympy2_extended
   1.11.0, as the authors pin them). Only LaTeX extraction is used: math-verify's plain-expression mode goes through
   sympy's ``parse_expr``, which evaluates Python, and model text must never reach it.

Otherwise the stage is ``mismatch`` (reward 0), ``no_answer`` (nothing to extract), ``rejected`` (the prediction is
too costly to check symbolically: see ``too_costly``), ``timeout`` or ``error`` (set by the pool)::

    >>> grade(r"... so the answer is \\boxed{\\dfrac{1}{2}}", r"\\frac{1}{2}").stage
    'string'
    >>> grade(r"\\boxed{0.5}", r"\\frac12").stage
    'symbolic'
    >>> grade(r"\\boxed{\\{2, 1\\}}", r"\\{1,2\\}").stage
    'math_verify'
    >>> grade("no box here", "3").stage
    'no_answer'

``grade`` runs math-verify in the calling process with no timeout: use it only where a hang is acceptable
(benchmarks, the worker process). Everything else goes through ``GraderPool``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from tandem_rl.rewards.extract import Extraction, extract_answer, gold_answer
from tandem_rl.rewards.normalize import normalize
from tandem_rl.rewards.numeric import numerically_equal

STAGES = ("string", "symbolic", "math_verify", "no_answer", "mismatch", "rejected", "timeout", "error")
MAX_ANSWER_CHARS = 300
MAX_NESTING = 10

_NUMERIC_TOWER = re.compile(r"\^\s*[{(]*\s*-?\d+(?:\.\d+)?\s*[})]*\s*\^")
_BIG_EXPONENT = re.compile(r"\^\s*\{?\s*(\d{5,})")
_BIG_FACTORIAL = re.compile(r"(\d{4,})\s*!|!\s*[)}]*\s*!")  # 1000!, (10!)!, 5!!


@dataclass
class RewardResult:
    """The grade of one response.

    reward: 1.0 or 0.0. extracted: the final answer found, None if none. stage: which stage decided (``STAGES``).
    timed_out: math-verify ran past the per-answer timeout (reward 0). answer_author: who wrote the extracted answer,
    ``"senior"``, ``"junior"`` or ``"mixed"``; None without authorship information or without an answer.
    """

    reward: float
    extracted: Optional[str]
    stage: str
    timed_out: bool = False
    answer_author: Optional[str] = None


def too_costly(answer: str) -> Optional[str]:
    """Why an answer should not reach sympy, or None. Cheap guards against inputs that would hang or eat memory.

    >>> too_costly("9^{9^{9^9}}"), too_costly("1000000!"), too_costly("2^{10}")
    ('power tower', 'huge factorial', None)
    """
    if len(answer) > MAX_ANSWER_CHARS:
        return "too long"
    if "__" in answer:
        return "python dunder"  # never valid LaTeX; a cheap belt on top of LaTeX-only parsing
    depth = deepest = 0
    for c in answer:
        if c in "({[":
            depth += 1
            deepest = max(deepest, depth)
        elif c in ")}]":
            depth -= 1
    if deepest > MAX_NESTING:
        return "too deeply nested"
    if _NUMERIC_TOWER.search(answer):
        return "power tower"
    if _BIG_EXPONENT.search(answer):
        return "huge exponent"
    if _BIG_FACTORIAL.search(answer):
        return "huge factorial"
    return None


def quick_grade(response: str, gold: str, answer_format: str = "boxed", *,
                guard: bool = True) -> tuple[Optional[RewardResult], Optional[str]]:
    """Stages that need no sympy: ``(decided result, None)`` or ``(None, extracted)`` when math-verify must decide.

    Bounded cost on any input (linear scans, a parser that refuses long or deep input), so it is safe to run in the
    trainer's own process. ``guard=False`` skips the ``too_costly`` check (benchmarks of the timeout path only).
    """
    found: Optional[Extraction] = extract_answer(response, answer_format)
    if found is None or not found.text.strip():
        return RewardResult(0.0, None, "no_answer"), None
    pred, gold = found.text, gold_answer(gold, answer_format)
    pn, gn = normalize(pred), normalize(gold)
    if pn == gn and pn != "":
        return RewardResult(1.0, pred, "string"), None
    if numerically_equal(pn, gn):
        return RewardResult(1.0, pred, "symbolic"), None
    if guard and (too_costly(pred) or too_costly(gold)):
        return RewardResult(0.0, pred, "rejected"), None
    return None, pred


PINNED = {"math-verify": "0.9.0", "latex2sympy2_extended": "1.11.0"}  # the versions the paper's authors pin


def version_problems() -> list[str]:
    """Differences from the pinned grader packages (empty when they match): other versions grade differently.

    >>> version_problems()
    []
    """
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name, want in PINNED.items():
        try:
            have = version(name)
        except PackageNotFoundError:
            have = None
        if have != want:
            out.append(f"{name} {have or 'not installed'} (pinned: {want})")
    return out


_LATEX_ONLY = None


def math_verify_equal(gold: str, pred: str) -> bool:
    """math-verify's verdict, gold first, with its signal-based timeouts disabled (the caller enforces a timeout)."""
    global _LATEX_ONLY
    import logging

    from math_verify import LatexExtractionConfig, parse, verify

    if _LATEX_ONLY is None:
        logging.getLogger("math_verify").setLevel(logging.ERROR)  # it warns that we disabled its timeouts
        _LATEX_ONLY = [LatexExtractionConfig()]
    g = parse("\\boxed{" + gold + "}", extraction_config=_LATEX_ONLY, parsing_timeout=None)
    p = parse("\\boxed{" + pred + "}", extraction_config=_LATEX_ONLY, parsing_timeout=None)
    if not g or not p:
        return False
    return bool(verify(g, p, timeout_seconds=None))


def finish_with_math_verify(pred: str, gold: str, answer_format: str = "boxed") -> RewardResult:
    """Stage 3 for an answer that ``quick_grade`` left open."""
    try:
        ok = math_verify_equal(gold_answer(gold, answer_format), pred)
    except Exception:  # math-verify raises on some malformed LaTeX: a wrong answer, not a crash
        return RewardResult(0.0, pred, "error")
    return RewardResult(1.0, pred, "math_verify") if ok else RewardResult(0.0, pred, "mismatch")


def grade(response: str, gold: str, answer_format: str = "boxed") -> RewardResult:
    """The whole chain in this process, without a timeout (see the module docstring)."""
    done, pred = quick_grade(response, gold, answer_format)
    if done is not None:
        return done
    return finish_with_math_verify(pred, gold, answer_format)
