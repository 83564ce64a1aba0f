"""Stage 1 of the grader chain: a normalised string form of an answer.

Two answers that normalise to the same string are equal. Normalisation removes presentation only (spacing, ``$``,
``\\left``/``\\right``, ``\\text{}`` wrappers, units, degree signs, percent signs, thousands separators, a leading
``x =``, the case of plain-text answers), never meaning::

    >>> normalize(r"\\$1,000")
    '1000'
    >>> normalize(r"\\dfrac{1}{2}") == normalize(r"\\frac{1}{2}")
    True
    >>> normalize(r"x = 5\\text{ cm}")
    '5'
    >>> normalize(r"\\text{Monday}")
    'monday'
    >>> normalize(r"\\left( 1, 2 \\right]")
    '(1,2]'

Everything here is a bounded string rewrite (regexes without nested quantifiers, a few passes); nothing is evaluated.
"""

from __future__ import annotations

import re

MAX_LEN = 1000  # longer strings are compared verbatim (they are rejected before sympy anyway)

_UNITS = (
    "cm", "mm", "km", "m", "meters", "meter", "metres", "inches", "inch", "in", "ft", "feet", "foot", "yards", "yd",
    "miles", "mile", "mph", "kg", "g", "grams", "gram", "lb", "lbs", "pounds", "ounces", "oz", "s", "sec", "seconds",
    "second", "min", "minutes", "minute", "hours", "hour", "hr", "days", "day", "weeks", "years", "dollars", "dollar",
    "cents", "cent", "units", "unit", "degrees", "degree", "sq", "square", "cubic", "liters", "litres", "l", "ml",
    "people", "students", "apples", "marbles", "points", "ways",
)
# A number followed by unit words ("5 cm", "12 square feet", "3cm"): keep the number.
_NUMBER_WITH_UNITS = re.compile(
    r"^(-?[0-9.,/]+)\s*(?:(?:%s)\b\s*)+(?:\^\{?[23]\}?)?$" % "|".join(_UNITS))
_TEXT_WRAPPERS = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname|textnormal)\s*\{([^{}]*)\}")
_ASSIGNMENT = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?\s*=\s*(?=[^=])")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree")
_SPACING = re.compile(r"\\[,;:!> ]|\\quad|\\qquad|~")


def _strip_outer_box(s: str) -> str:
    for cmd in ("\\boxed{", "\\fbox{"):
        if s.startswith(cmd) and s.endswith("}"):
            return s[len(cmd):-1]
    return s


def normalize(answer: str) -> str:
    """The canonical string form of an answer (see the module docstring for what is removed)."""
    s = answer.strip()
    if len(s) > MAX_LEN:
        return s  # left as is: compared only verbatim
    s = _strip_outer_box(s)
    s = s.replace("\u2212", "-").replace("\u2013", "-")  # unicode minus / en dash
    s = s.replace("\\left", "").replace("\\right", "").replace("\\displaystyle", "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("\\$", "").replace("$", "")
    s = _SPACING.sub(" ", s)
    s = _DEGREES.sub("", s)
    for _ in range(3):  # \text{\textbf{x}}: a few layers, bounded
        s = _TEXT_WRAPPERS.sub(r"\1", s)
    s = s.replace("\\%", "%").rstrip()
    if s.endswith("%"):
        s = s[:-1]
    s = s.strip().rstrip(".").strip()
    s = _ASSIGNMENT.sub("", s)
    s = " ".join(s.split())
    m = _NUMBER_WITH_UNITS.match(s)
    if m:
        s = m.group(1)
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    s = s.replace(" ", "")
    if re.fullmatch(r"-?\d+\.\d*", s):  # 5.0 and 5.00 and 5. all mean 5
        s = s.rstrip("0").rstrip(".") or "0"
    if s.startswith("+") and len(s) > 1:
        s = s[1:]
    return s if "\\" in s else s.casefold()  # text answers ignore case; \Delta is not \delta
