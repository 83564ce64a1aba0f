"""The records every loader produces: ``Problem``, ``SkippedRow`` and ``ProblemSet``.

    ps = load_problems(DataConfig(source="problems.jsonl", on_error="skip"))
    ps.problems[0]   # Problem(id='problems:1', problem='What is 2+3?', answer='5', source='problems', meta={...})
    ps.skipped[0]    # SkippedRow(file='problems.jsonl', row=4, field='answer', reason='missing')
    str(ps.skipped[0])  # "problems.jsonl, row 4, field 'answer': missing"
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Problem:
    """One problem: ``id`` (unique within a load), the problem text, the gold ``answer`` (a string, LaTeX allowed),
    ``source`` (file stem, recipe part or generator) and ``meta`` (the row's other short scalar columns)."""

    id: str
    problem: str
    answer: str
    source: str
    meta: dict = field(default_factory=dict)


@dataclass
class SkippedRow:
    """A row that was not used: where it is (``file``, 1-based ``row``; for .jsonl the line number), which
    ``field`` was at fault and why."""

    file: str
    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}, row {self.row}, field {self.field!r}: {self.reason}"


@dataclass
class ProblemSet:
    """Loaded problems plus every skipped row (malformed with ``on_error='skip'``, or excluded by a recipe)."""

    problems: list[Problem]
    skipped: list[SkippedRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.problems)

    def __iter__(self):
        return iter(self.problems)


class DataError(ValueError):
    """Bad data or an unusable source; the message names the file, row and field where there is one."""
