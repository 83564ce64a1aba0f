"""Stage 2 of the grader chain: a small, safe parser for simple numeric answers.

Reads integers, decimals, fractions (``\\frac12``, ``\\frac{a}{b}``, ``a/b``), ``\\sqrt{}``, ``\\pi``, ``+ - * /``,
``\\cdot``, ``\\times``, parentheses/braces, implicit products (``2\\sqrt2``) and small integer powers. Values are
exact fractions while they can be; ``\\sqrt`` of a non-square and ``\\pi`` make them approximate floats::

    >>> value("\\\\frac12") == value("0.5")
    True
    >>> value("2\\\\sqrt2").approx, value("\\\\sqrt{8}").approx
    (2.8284271247461903, 2.8284271247461903)
    >>> numerically_equal("2\\\\sqrt2", "\\\\sqrt8"), numerically_equal("1/3", "0.333")
    (True, False)
    >>> value("x+1") is None                    # anything else: not this stage's business
    True

It never calls eval/sympify; input over 200 characters, powers beyond small bounds, or more than 8 levels of
nesting are refused (None), so its cost is bounded. Exact values compare exactly; two approximate values compare
with a relative tolerance of 1e-9; an exact value never equals an approximate one here (``1.41421356`` is not
``\\sqrt2``), those pairs go on to math-verify.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

MAX_CHARS = 200
MAX_DEPTH = 8
MAX_EXPONENT = 64
MAX_BITS = 4096

_TOKEN = re.compile(r"\s*(\d+\.\d*|\.\d+|\d+|\\[A-Za-z]+|[-+*/^(){}\[\]])")


@dataclass(frozen=True)
class Value:
    """A number: ``exact`` (a Fraction) when known exactly, always an ``approx`` float."""

    exact: Optional[Fraction]
    approx: float

    @staticmethod
    def of(q: Fraction) -> "Value":
        return Value(q, float(q))


class _Refuse(Exception):
    pass


def _tokens(s: str) -> list[str]:
    out, i = [], 0
    s = s.strip()
    while i < len(s):
        m = _TOKEN.match(s, i)
        if not m:
            raise _Refuse(s[i:])
        out.append(m.group(1))
        i = m.end()
        while i < len(s) and s[i].isspace():
            i += 1
    return out


class _Parser:
    def __init__(self, tokens: list[str]):
        self.t, self.i, self.depth = tokens, 0, 0

    def peek(self) -> Optional[str]:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, want: Optional[str] = None) -> str:
        tok = self.peek()
        if tok is None or (want is not None and tok != want):
            raise _Refuse(want)
        self.i += 1
        return tok

    def expr(self) -> Value:
        v = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            w = self.term()
            v = _combine(v, w, op)
        return v

    def term(self) -> Value:
        v = self.unary()
        while True:
            tok = self.peek()
            if tok in ("*", "\\cdot", "\\times", "/", "\\div"):
                self.take()
                v = _combine(v, self.unary(), "/" if tok in ("/", "\\div") else "*")
            elif tok is not None and (tok[0].isdigit() or tok in ("(", "{", "\\sqrt", "\\pi", "\\frac")):
                if tok == "\\frac" or tok[0].isdigit():
                    raise _Refuse("ambiguous juxtaposition")  # 2\frac12 (mixed number?) or "2 3"
                v = _combine(v, self.power(), "*")
            else:
                return v

    def unary(self) -> Value:
        if self.peek() in ("-", "+"):
            sign = self.take()
            v = self.unary()
            return _combine(Value.of(Fraction(-1 if sign == "-" else 1)), v, "*")
        return self.power()

    def power(self) -> Value:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            exp = self.group_or_digit()
            if exp.exact is None or exp.exact.denominator != 1 or abs(exp.exact) > MAX_EXPONENT:
                raise _Refuse("power")
            if base.exact is None:
                return Value(None, base.approx ** int(exp.exact))
            if base.exact == 0 and exp.exact < 0:
                raise _Refuse("0^-n")
            bits = max(base.exact.numerator.bit_length(), base.exact.denominator.bit_length())
            if bits * abs(int(exp.exact)) > MAX_BITS:
                raise _Refuse("power too large")
            return Value.of(base.exact ** int(exp.exact))
        return base

    def group_or_digit(self) -> Value:
        """A LaTeX argument: ``{...}`` or a single digit (``\\frac12`` reads 1 and 2)."""
        tok = self.peek()
        if tok == "{":
            return self.atom()
        if tok is not None and tok.isdigit():
            self.take()
            if len(tok) > 1:  # "\frac12" tokenised as "12": split off the first digit for the next argument
                self.t[self.i - 1:self.i] = [tok[0]]
                self.t.insert(self.i, tok[1:])
            return Value.of(Fraction(int(tok[0])))
        return self.atom()

    def atom(self) -> Value:
        tok = self.take()
        if tok in ("(", "{", "["):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _Refuse("depth")
            v = self.expr()
            self.take({"(": ")", "{": "}", "[": "]"}[tok])
            self.depth -= 1
            return v
        if tok[0].isdigit() or tok[0] == ".":
            if len(tok) > 60:
                raise _Refuse("long number")
            return Value.of(Fraction(tok))
        if tok == "\\frac":
            num = self.group_or_digit()
            den = self.group_or_digit()
            return _combine(num, den, "/")
        if tok == "\\sqrt":
            if self.peek() == "[":
                raise _Refuse("nth root")
            return _sqrt(self.group_or_digit())
        if tok == "\\pi":
            return Value(None, math.pi)
        raise _Refuse(tok)


def _combine(a: Value, b: Value, op: str) -> Value:
    if op == "/" and (b.approx == 0 or b.exact == 0):
        raise _Refuse("division by zero")
    if a.exact is not None and b.exact is not None:
        q = {"+": a.exact + b.exact, "-": a.exact - b.exact, "*": a.exact * b.exact, "/": a.exact / b.exact}[op]
        if max(q.numerator.bit_length(), q.denominator.bit_length()) > MAX_BITS:
            raise _Refuse("too large")
        return Value.of(q)
    x = {"+": a.approx + b.approx, "-": a.approx - b.approx, "*": a.approx * b.approx, "/": a.approx / b.approx}[op]
    return Value(None, x)


def _sqrt(v: Value) -> Value:
    if v.approx < 0:
        raise _Refuse("sqrt of negative")
    if v.exact is not None:
        n, d = v.exact.numerator, v.exact.denominator
        rn, rd = math.isqrt(n), math.isqrt(d)
        if rn * rn == n and rd * rd == d:
            return Value.of(Fraction(rn, rd))
    return Value(None, math.sqrt(v.approx))


def value(answer: str) -> Optional[Value]:
    """The numeric value of a normalised answer string, or None when it is not a simple number."""
    if not answer or len(answer) > MAX_CHARS:
        return None
    try:
        p = _Parser(_tokens(answer))
        v = p.expr()
        if p.peek() is not None:
            return None
        if not math.isfinite(v.approx):
            return None
        return v
    except (_Refuse, ValueError, ZeroDivisionError, OverflowError, ArithmeticError):
        return None


def numerically_equal(a: str, b: str) -> Optional[bool]:
    """True/False when both sides are simple numbers of the same kind (exact/approximate), else None."""
    va, vb = value(a), value(b)
    if va is None or vb is None:
        return None
    if va.exact is not None and vb.exact is not None:
        return va.exact == vb.exact
    if va.exact is None and vb.exact is None:
        return math.isclose(va.approx, vb.approx, rel_tol=1e-9, abs_tol=1e-12)
    return None
