"""What one played problem leaves on disk: one JSON line in ``<out>/human.jsonl``, appended and never rewritten.

A record (``author`` holds one entry per character of ``text``: 1 = the senior wrote it, 0 = the person)::

    {"label": "tandem", "protocol": "handoff_human", "benchmark": "world-test", "problem_id": "world:test:w-3",
     "problem": "Tom has 11 shells. ...", "gold": "14",
     "text": " 11 plus 5 is 16 .\\n\\n16 minus 2 is 14 \\\\boxed{14}",
     "author": [1, 1, ..., 0, 0], "segments": [[1, " 11 plus 5 is 16 .\\n\\n"], [0, "16 minus 2 is 14 \\\\boxed{14}"]],
     "turns": [{"author": "senior", "chars": 20, "seconds": 0.05}, {"author": "person", "chars": 27, "seconds": 9.8}],
     "reward": 1.0, "extracted": "14", "answer_author": "person", "finish_reason": "answer", "seconds": 10.1,
     "session": "3f9a...", "participant": "p07", "started_at": "2026-11-30T06:01:02Z", "seed": 17}

``to_sample_record`` gives the evaluation's record (``eval/records.py``: ``schedule`` = the protocol, the person in
the junior's place) so evaluation code can read a play like any co-written sample. Appending one line per finished
problem (flushed and synced) means a crash mid-problem loses at most that problem; a half-written last line is
skipped when reading.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from tandem_rl.eval.records import SampleRecord

PLAY_FILE = "human.jsonl"
PROTOCOLS = ("handoff_human", "finish_human")


@dataclass
class HumanRecord:
    label: str
    protocol: str  # "handoff_human": alternate steps with the senior; "finish_human": finish from its prefix
    benchmark: str
    problem_id: str
    problem: str
    gold: str
    text: str
    author: list[int]
    segments: list[list] = field(default_factory=list)
    turns: list[dict] = field(default_factory=list)
    reward: float = 0.0
    extracted: Optional[str] = None
    answer_author: Optional[str] = None  # "senior" | "person" | "mixed"
    # "answer" | "turn_limit" | "eos" (the senior ended without an answer) | "no_answer" (finish protocol) |
    # "context_full" (no room left in the senior's context for another step)
    finish_reason: str = "answer"
    seconds: float = 0.0
    session: str = ""
    participant: Optional[str] = None
    started_at: str = ""
    seed: int = 0

    def to_sample_record(self, sample: int = 0) -> SampleRecord:
        """The evaluation's record of this play (no token ids: the person's text has none of its own)."""
        who = {"person": "junior"}.get(self.answer_author, self.answer_author)
        return SampleRecord(label=self.label, benchmark=self.benchmark, problem_id=self.problem_id, sample=sample,
                            schedule=self.protocol, response_ids=[], author=[], segments=self.segments,
                            text=self.text, reward=self.reward, extracted=self.extracted, answer_author=who,
                            finish_reason=self.finish_reason, gold=self.gold)


def append_record(folder: str | os.PathLike, record: HumanRecord) -> Path:
    """Append one line to ``<folder>/human.jsonl`` (append mode only: earlier sessions are never touched)."""
    path = Path(folder) / PLAY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(dataclasses.asdict(record), ensure_ascii=False) + "\n").encode("utf-8")
    with open(path, "a+b") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell():  # a crash mid-write left a torn last line: end it, so this record starts a line of its own
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                line = b"\n" + line
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def read_records(folder: str | os.PathLike) -> list[HumanRecord]:
    """Every complete record of ``<folder>/human.jsonl`` (``load_records`` also counts the lines skipped)."""
    return load_records(folder)[0]


def load_records(folder: str | os.PathLike) -> tuple[list[HumanRecord], int]:
    """(records, lines skipped) of ``<folder>/human.jsonl``. A line that is not a record (a torn line from a crash
    mid-write, ``null``, ``[]``, a record with fields of the wrong type) is skipped and counted, never fatal.

    >>> import tempfile; d = tempfile.mkdtemp()
    >>> _ = open(f"{d}/human.jsonl", "w").write('null\\n[]\\n{"label": 1}\\n{"label": "a", "protocol": "handoff_human"')
    >>> load_records(d)
    ([], 4)
    """
    path = Path(folder) / PLAY_FILE
    if not path.is_file():
        return [], 0
    out, skipped = [], 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):
                row = None
            record = _record(row)
            if record is None:
                skipped += 1
            else:
                out.append(record)
    return out, skipped


# field -> the JSON types a readable record holds there (the report does arithmetic and lookups on them)
_TYPES = {"label": str, "protocol": str, "benchmark": str, "problem_id": str, "problem": str, "gold": str,
          "text": str, "author": list, "segments": list, "turns": list, "reward": (int, float),
          "seconds": (int, float), "session": str}


def _record(row) -> Optional[HumanRecord]:
    if not isinstance(row, dict):
        return None
    names = {f.name for f in dataclasses.fields(HumanRecord)}
    if any(k not in row for k in ("label", "protocol", "benchmark", "problem_id", "problem", "gold", "text",
                                  "author")):
        return None
    if any(k in row and (not isinstance(row[k], t) or isinstance(row[k], bool)) for k, t in _TYPES.items()):
        return None
    if not all(isinstance(s, list) and len(s) == 2 and isinstance(s[1], str) for s in row.get("segments", [])) or \
            not all(isinstance(t, dict) for t in row.get("turns", [])):
        return None
    return HumanRecord(**{k: v for k, v in row.items() if k in names})
