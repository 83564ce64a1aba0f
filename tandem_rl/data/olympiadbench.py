"""OlympiadBench from a local file in its published format (He et al. 2024), text-only problems.

The paper evaluates on OlympiadBench (581 problems) but names no public source its authors rebuilt it from, so there
is no hub recipe: point at a local copy of one published subset file (a JSON list, or JSON lines)::

    data.source: olympiadbench:/data/OlympiadBench/OE_TO_maths_en_COMP.json
    data.source: olympiadbench          # = <data.recipe_dir>/olympiadbench.json (or .jsonl)

Assumed fields of a published record (docs/reproduce.md lists them): ``question`` (text), ``final_answer`` (a list of
strings; the first is the gold answer), ``id``, and optionally ``subject``, ``unit``, ``answer_type``,
``is_multiple_answer``, ``error`` and ``image_1``..``image_N`` (multimodal subsets). A record is read as::

    >>> olympiad_record({"id": 7, "question": "Find $x$.", "final_answer": ["$\\\\frac{1}{2}$"], "unit": None})
    {'question': 'Find $x$.', 'answer': '\\\\frac{1}{2}', 'id': 7, 'unit': None}

A record with an image is not text-only and is excluded (listed in ``ProblemSet.skipped``, like a recipe's
exclusions); a record whose ``final_answer`` is not a non-empty list of strings is malformed: an error naming file,
row and field with ``data.on_error=raise``, skipped and listed with ``skip``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from tandem_rl.data.problem import DataError, Problem, ProblemSet, SkippedRow
from tandem_rl.data.readers import read_rows
from tandem_rl.data.validate import to_problems

PREFIX = "olympiadbench:"
RECIPE = "olympiadbench"
# Fields copied to the problem row (and so into Problem.meta); everything else of the record is dropped.
KEPT = ("id", "subject", "unit", "answer_type", "is_multiple_answer", "error")


class _Malformed(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


def _has_image(record: dict) -> bool:
    return any(k.startswith("image_") and record[k] for k in record) or "<image_" in str(record.get("question", ""))


def olympiad_record(record: dict) -> dict:
    """A published record -> a plain problem row (``question``, ``answer`` = the first ``final_answer`` without
    its surrounding ``$``, and the kept fields). Raises ``_Malformed(field, reason)``."""
    answers = record.get("final_answer")
    if not isinstance(answers, list) or not answers:
        got = "missing" if answers is None else f"{type(answers).__name__} {str(answers)[:40]!r}"
        raise _Malformed("final_answer", f"expected a non-empty list of strings, got {got}")
    first = answers[0]
    if not isinstance(first, str) or not first.strip().strip("$").strip():
        raise _Malformed("final_answer", f"its first entry is not a non-empty string: {first!r}")
    row = {"question": record.get("question"), "answer": first.strip().strip("$").strip()}
    row.update({k: record[k] for k in KEPT if k in record})
    return row


def source_path(source: str, recipe_dir: Optional[str]) -> Optional[Path]:
    """The local file a source names (``olympiadbench:<file>`` or ``olympiadbench`` + recipe_dir), else None."""
    if source.startswith(PREFIX):
        return Path(source[len(PREFIX):])
    if source != RECIPE:
        return None
    if not recipe_dir:
        raise DataError("data.source 'olympiadbench' has no hub source: set data.recipe_dir to a folder holding "
                        "olympiadbench.json (a published OlympiadBench subset file), or use "
                        "data.source=olympiadbench:/path/to/OE_TO_maths_en_COMP.json")
    for name in ("olympiadbench.json", "olympiadbench.jsonl"):
        if (Path(recipe_dir) / name).is_file():
            return Path(recipe_dir) / name
    raise DataError(f"data.recipe_dir={recipe_dir}: no olympiadbench.json or olympiadbench.jsonl")


def load_olympiadbench(path: Path, *, on_error: str = "raise") -> ProblemSet:
    """Text-only problems of one published OlympiadBench file; malformed and image rows in ``skipped``."""
    if not path.is_file():
        raise DataError(f"{path}: no such OlympiadBench file")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"data.on_error must be 'raise' or 'skip', got {on_error!r}")
    skipped: list[SkippedRow] = []

    def rows():
        for row, record in read_rows(str(path), None):
            if isinstance(record, dict):
                if _has_image(record):
                    skipped.append(SkippedRow(path.name, row, "image", "not text-only: excluded"))
                    continue
                try:
                    record = olympiad_record(record)
                except _Malformed as bad:
                    if on_error == "raise":
                        raise DataError(str(SkippedRow(path.name, row, bad.field, bad.reason))) from None
                    skipped.append(SkippedRow(path.name, row, bad.field, bad.reason))
                    continue
            yield row, record

    problems: list[Problem]
    problems, bad = to_problems(rows(), file=path.name, source=RECIPE, on_error=on_error,
                                problem_column="question", answer_column="answer")
    return ProblemSet(problems, skipped + bad)
