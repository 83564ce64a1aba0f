"""Per-sample evaluation records: one JSON line per generated response, enough to rebuild every summary.

A record of a co-written handoff sample (``author`` 1 = senior, 0 = junior; ``segments`` = runs of one author's
decoded text, for two-colour transcripts)::

    {"label": "tandem", "benchmark": "aime", "problem_id": "aime-3", "sample": 0, "schedule": "paragraph",
     "response_ids": [412, 9, 88, 2], "author": [1, 1, 0, 0], "segments": [[1, "Let x"], [0, " = 2."]],
     "text": "Let x = 2.", "reward": 0.0, "extracted": null, "answer_author": null, "finish_reason": "eos",
     "gold": "5", "ce_junior": null, "ce_junior_per_byte": null, "kl_base": null, "kl_junior": null,
     "notation": false, "steps": null, "failure": null, "failure_author": null}

``ce_junior`` / ``kl_base`` / ``kl_junior`` are per-token means over the response (solo samples only; ``null``
where not computed or the response is empty); ``ce_junior_per_byte`` is the junior's summed CE over the response
divided by the UTF-8 bytes of ``text`` (the same number whatever the junior's tokenizer; ``kl_junior`` is ``null``
for a junior with its own tokenizer: no shared vocabulary to compare over); ``steps`` is the step checker's ``[n_steps, n_false]``
(solo samples). ``failure`` is the error anatomy of every sample (``eval/anatomy.py``; needs a step checker that
says where things are written): ``"none"`` when correct, else the first failure's kind, and ``failure_author`` who
wrote it ("senior", "junior", "mixed"; null when the failure is no piece of text); null when not computed.
Displacement rows (one per shared text) go to their own file with :class:`DisplacementRecord`, transfer
continuations (``eval/transfer.py``) to ``<label>/transfer.jsonl`` with :class:`TransferRecord`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

SAMPLES_FILE = "samples.jsonl"
SUMMARY_FILE = "summary.json"
DISPLACEMENT_FILE = "displacement.jsonl"
COMPARISON_FILE = "comparison.json"
TRANSFER_FILE = "transfer.jsonl"


@dataclass
class SampleRecord:
    label: str
    benchmark: str
    problem_id: str
    sample: int
    schedule: str
    response_ids: list[int]
    author: list[int]
    segments: list[list] = field(default_factory=list)
    text: str = ""
    reward: float = 0.0
    extracted: Optional[str] = None
    answer_author: Optional[str] = None
    finish_reason: str = "eos"
    gold: str = ""
    ce_junior: Optional[float] = None
    ce_junior_per_byte: Optional[float] = None  # summed junior CE / UTF-8 bytes of ``text``: any tokenizer
    kl_base: Optional[float] = None
    kl_junior: Optional[float] = None
    notation: Optional[bool] = None
    steps: Optional[list[int]] = None
    failure: Optional[str] = None
    failure_author: Optional[str] = None


@dataclass
class DisplacementRecord:
    grpo: str
    tandem: str
    source: str  # whose solo text was read
    benchmark: str
    problem_id: str
    sample: int
    positions: int
    displaced: int
    returned: int


@dataclass
class TransferRecord:
    """One junior continuation from a prefix of a senior solo response (``eval/transfer.py``): ``unit`` "tokens"
    or "steps", the grid ``fraction``, the prefix length it gave, the reasoning's length in tokens and in steps;
    ``response_ids`` / ``text`` / ``reward`` are the junior's continuation alone and its grade."""

    label: str
    benchmark: str
    problem_id: str
    sample: int
    unit: str
    fraction: float
    prefix_tokens: int
    reasoning_tokens: int
    steps: int
    response_ids: list[int] = field(default_factory=list)
    text: str = ""
    reward: float = 0.0
    extracted: Optional[str] = None
    finish_reason: str = "eos"


def write_jsonl(path: str | os.PathLike, rows: Iterable) -> None:
    """Write dataclass rows as JSON lines via a temporary file and a rename (no half-written files)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as fh:
        for r in rows:
            fh.write(json.dumps(dataclasses.asdict(r) if dataclasses.is_dataclass(r) else r) + "\n")
    os.replace(tmp, path)


def write_json(path: str | os.PathLike, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(_finite(obj), indent=1, allow_nan=False, default=_json_default) + "\n")
    os.replace(tmp, path)


def _finite(x):
    """nan/inf -> None, recursively (JSON has no nan)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if hasattr(x, "item") and getattr(x, "ndim", 1) == 0:
        return _finite(x.item())
    return x


def _json_default(x):
    if hasattr(x, "item"):
        return x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def read_jsonl(path: str | os.PathLike, cls=None) -> list:
    """Read JSON lines (as ``cls`` instances when given); a bad line raises naming the file and line number."""
    out = []
    names = {f.name for f in dataclasses.fields(cls)} if cls else None
    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if cls is not None:
                    unknown = set(row) - names
                    if unknown:
                        raise ValueError(f"unknown field(s) {sorted(unknown)}")
                    row = cls(**row)
            except (ValueError, TypeError) as err:
                raise ValueError(f"{path}:{lineno}: not a valid {cls.__name__ if cls else 'JSON'} row: {err}") from None
            out.append(row)
    return out
