"""Find the final answer in a response: the last ``\\boxed{...}`` / ``\\fbox{...}``, or GSM8K's ``#### N``.

The paper grades the last boxed answer of the whole co-written response (Jiao et al., arXiv 2606.28166, "Reward").
Extraction returns the answer *and where it sits* in the response, so that the per-character authorship can say who
wrote it::

    >>> last_boxed(r"so \\boxed{\\frac{1}{2}}, or \\boxed{3}.")
    Extraction(text='3', start=34, end=35)
    >>> last_boxed(r"\\boxed 5$ done").text
    '5'
    >>> last_boxed(r"first \\boxed{4} then \\boxed{5")   # the last box never closes: the last complete one wins
    Extraction(text='4', start=13, end=14)
    >>> gsm8k_answer("... so 3 + 4 = 7.\\n#### 1,007").text
    '1,007'

``answer_format="boxed-strict"`` reads the authors' way (CSSLab/Tandem-RLVR scores these 0, per the audit in issue
16): only the very last ``\\boxed{`` counts, and only when it closes; ``\\fbox`` and ``\\boxed 5`` are not answers::

    >>> strict_last_boxed(r"first \\boxed{4} then \\boxed{5") is None   # the last box never closes: no answer
    True
    >>> strict_last_boxed(r"\\fbox{3}") is None, strict_last_boxed(r"\\boxed 5") is None
    (True, True)

Rules: ``\\boxed`` must not be followed by a letter (``\\boxedx`` is another command); braces escaped as ``\\{`` or
``\\}`` do not count; one left-to-right pass pairs every brace, so the scan is linear even on adversarial input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

ANSWER_FORMATS = ("boxed", "boxed-strict", "gsm8k")
_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_GSM8K = re.compile(r"####\s*\$?\s*(-?\s*[0-9][0-9,]*(?:\.[0-9]+)?)")


@dataclass(frozen=True)
class Extraction:
    """The extracted answer ``text`` and its character span ``[start, end)`` in the response."""

    text: str
    start: int
    end: int


def _brace_partners(text: str) -> dict[int, int]:
    """Map the index of every ``{`` that closes to the index of its ``}``, in one pass."""
    partners: dict[int, int] = {}
    stack: list[int] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2  # an escaped character (\{, \}, \\) never opens or closes a group
            continue
        if c == "{":
            stack.append(i)
        elif c == "}" and stack:
            partners[stack.pop()] = i
        i += 1
    return partners


def last_boxed(text: str) -> Optional[Extraction]:
    """The content of the last complete ``\\boxed{...}`` / ``\\fbox{...}`` (or ``\\boxed X``), else None."""
    starts = [m.end() for m in _BOX.finditer(text)]
    if not starts:
        return None
    partners: Optional[dict[int, int]] = None
    for pos in reversed(starts):
        j = pos
        while j < len(text) and text[j] in " \t":
            j += 1
        if j < len(text) and text[j] == "{":
            if partners is None:
                partners = _brace_partners(text)
            close = partners.get(j)
            if close is not None:
                return Extraction(text[j + 1:close], j + 1, close)
            continue  # unclosed (e.g. truncated): fall back to an earlier box
        if j > pos:  # "\boxed 5": one space-delimited token, ended by whitespace or "$"
            m = re.match(r"[^\s$]+", text[j:])
            if m:
                return Extraction(m.group(0), j, j + m.end())
    return None


def strict_last_boxed(text: str) -> Optional[Extraction]:
    """The content of the last ``\\boxed{...}`` when that last box is complete, else None (no fallback)."""
    starts = [m.end() for m in _BOX.finditer(text) if text.startswith("\\boxed", m.start())]
    if not starts or not text.startswith("{", starts[-1]):
        return None
    j = starts[-1]
    close = _brace_partners(text).get(j)
    return Extraction(text[j + 1:close], j + 1, close) if close is not None else None


def gsm8k_answer(text: str) -> Optional[Extraction]:
    """The number after the last ``####`` (GSM8K's answer line), else None."""
    last = None
    for last in _GSM8K.finditer(text):
        pass
    if last is None:
        return None
    return Extraction(last.group(1), last.start(1), last.end(1))


def extract_answer(text: str, answer_format: str = "boxed") -> Optional[Extraction]:
    """Dispatch on ``answer_format``: ``"boxed"`` (paper), ``"boxed-strict"`` (the authors' reading) or ``"gsm8k"``."""
    if answer_format == "boxed":
        return last_boxed(text)
    if answer_format == "boxed-strict":
        return strict_last_boxed(text)
    if answer_format == "gsm8k":
        return gsm8k_answer(text)
    raise ValueError(f"answer_format must be one of {ANSWER_FORMATS}, got {answer_format!r}")


def gold_answer(gold: str, answer_format: str = "boxed") -> str:
    """A gold answer as given, or the answer inside it when it carries its own box / ``####`` line."""
    found = extract_answer(gold, answer_format) if ("\\boxed" in gold or "\\fbox" in gold or "####" in gold) else None
    return found.text if found is not None else gold
