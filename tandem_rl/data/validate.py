"""Turn raw rows into ``Problem``s: pick the columns, check every field, name the culprit when a row is bad.

Columns, unless given explicitly: the problem is the first of ``problem``/``question``/``prompt``; the answer is the
first of ``answer``/``final_answer``, else the last ``\\boxed{}`` of a ``solution`` column (MATH-style rows)::

    >>> to_problem({"question": "2+3?", "solution": "So \\\\boxed{5}."}, file="x.jsonl", row=3, source="x").answer
    '5'
    >>> to_problem({"problem": "2+3?"}, file="x.jsonl", row=4, source="x")
    Traceback (most recent call last):
    ...
    tandem_rl.data.problem.DataError: x.jsonl, row 4, field 'answer': missing (no answer/final_answer column and no solution column)

Numbers are accepted as answers (AIME sets store integers): ``27`` and ``27.0`` both become ``"27"``.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional

from tandem_rl.data.problem import DataError, Problem, SkippedRow
from tandem_rl.rewards.extract import last_boxed

PROBLEM_COLUMNS = ("problem", "question", "prompt")
ANSWER_COLUMNS = ("answer", "final_answer")
SOLUTION_COLUMN = "solution"
ID_COLUMNS = ("id", "unique_id", "problem_idx", "ID", "idx")


class _Bad(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


def _text(value, field: str) -> str:
    if value is None:
        raise _Bad(field, "missing")
    if isinstance(value, bool) or not isinstance(value, str):
        raise _Bad(field, f"expected a string, got {type(value).__name__}")
    if not value.strip():
        raise _Bad(field, "empty")
    return value.strip()


def _answer_text(value, field: str) -> str:
    if isinstance(value, bool):
        raise _Bad(field, "expected a string or number, got bool")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Bad(field, f"not a finite number ({value})")
        return str(int(value)) if value.is_integer() else repr(value)
    if value is not None and not isinstance(value, str):
        raise _Bad(field, f"expected a string or number, got {type(value).__name__}")
    return _text(value, field)


def _pick(record: dict, explicit: Optional[str], candidates: tuple[str, ...]) -> Optional[str]:
    if explicit is not None:
        return explicit
    return next((c for c in candidates if c in record), None)


def _fields(record: dict, problem_column: Optional[str], answer_column: Optional[str]) -> tuple[str, str]:
    pcol = _pick(record, problem_column, PROBLEM_COLUMNS)
    if pcol is None:
        raise _Bad("problem", f"missing (no {'/'.join(PROBLEM_COLUMNS)} column; set data.problem_column)")
    problem = _text(record.get(pcol), pcol)
    acol = _pick(record, answer_column, ANSWER_COLUMNS)
    if acol is not None and acol != SOLUTION_COLUMN:
        return problem, _answer_text(record.get(acol), acol)
    if SOLUTION_COLUMN not in record:
        raise _Bad("answer", f"missing (no {'/'.join(ANSWER_COLUMNS)} column and no solution column)")
    solution = _text(record.get(SOLUTION_COLUMN), SOLUTION_COLUMN)
    boxed = last_boxed(solution)
    if boxed is None or not boxed.text.strip():
        raise _Bad(SOLUTION_COLUMN, "no \\boxed{...} answer in the solution")
    return problem, boxed.text.strip()


def _row_id(record: dict, source: str, row: int) -> str:
    for c in ID_COLUMNS:
        v = record.get(c)
        if isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip():
            return f"{source}:{v}"
    return f"{source}:{row}"


def _meta(record: dict, used: set[str], row: int) -> dict:
    meta = {"row": row}
    for k, v in record.items():
        if k in used or k == SOLUTION_COLUMN:
            continue
        if isinstance(v, (int, float, bool)) or (isinstance(v, str) and len(v) <= 200):
            meta[k] = v
    return meta


def _validated(record: dict, row: int, source: str, problem_column, answer_column) -> Problem:
    problem, answer = _fields(record, problem_column, answer_column)
    used = {c for c in (_pick(record, problem_column, PROBLEM_COLUMNS), _pick(record, answer_column, ANSWER_COLUMNS))
            if c}
    return Problem(_row_id(record, source, row), problem, answer, source, _meta(record, used, row))


def to_problem(record: dict, *, file: str, row: int, source: str, problem_column: Optional[str] = None,
               answer_column: Optional[str] = None) -> Problem:
    """One validated ``Problem`` from one row; ``DataError`` naming file, row and field otherwise."""
    try:
        return _validated(record, row, source, problem_column, answer_column)
    except _Bad as bad:
        raise DataError(str(SkippedRow(file, row, bad.field, bad.reason))) from None


def to_problems(rows: Iterable, *, file: str, source: str, on_error: str = "raise",
                problem_column: Optional[str] = None, answer_column: Optional[str] = None,
                ) -> tuple[list[Problem], list[SkippedRow]]:
    """Validate every row; ``on_error="raise"`` stops at the first bad one, ``"skip"`` drops and records it."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"data.on_error must be 'raise' or 'skip', got {on_error!r}")
    problems, skipped = [], []
    for row, record in rows:
        try:
            if isinstance(record, DataError):
                raise _Bad("(row)", str(record).split(": ", 1)[-1])
            problems.append(_validated(record, row, source, problem_column, answer_column))
        except _Bad as bad:
            if on_error == "raise":
                raise DataError(str(SkippedRow(file, row, bad.field, bad.reason))) from None
            skipped.append(SkippedRow(file, row, bad.field, bad.reason))
    return problems, skipped
