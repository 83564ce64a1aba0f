"""Reading the folders a report is built from: evaluation folders and training run folders.

An *evaluation folder* (written by ``tandem-rl eval``) holds ``<label>/samples.jsonl`` + ``<label>/summary.json``
and ``comparison.json``; a summary that is missing is rebuilt from the samples (no model needed). A *run folder*
(written by ``tandem-rl train``) holds ``metrics.jsonl`` and ``rollouts/step_NNNNNN.jsonl``. A folder may be both.

    src = load_sources(["evals/demo", "runs/grpo", "runs/tandem"])
    src.evals[0].summaries["tandem"]["metrics"]["solo_pass@k"]
    src.runs[0].metrics[-1]["reward_mean"]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from tandem_rl.errors import InputFileError
from tandem_rl.eval.records import (COMPARISON_FILE, SAMPLES_FILE, SUMMARY_FILE, TRANSFER_FILE, SampleRecord,
                                    TransferRecord, read_jsonl)
from tandem_rl.eval.transfer import label_summary
from tandem_rl.play.records import PLAY_FILE


@dataclass
class EvalFolder:
    path: Path
    summaries: dict[str, dict]
    comparison: dict = field(default_factory=dict)
    sweep: dict = field(default_factory=dict)  # sweep.json written by `tandem-rl sweep` (grid points, labels)

    def samples(self, label: str) -> list[SampleRecord]:
        f = self.path / label / SAMPLES_FILE
        return read_jsonl(f, SampleRecord) if f.is_file() else []


@dataclass
class RunFolder:
    path: Path
    name: str
    metrics: list[dict]
    skipped_lines: int = 0

    def rollout_files(self) -> list[Path]:
        return sorted((self.path / "rollouts").glob("step_*.jsonl"))

    def rollouts(self, step_file: Optional[Path] = None, limit: int = 4) -> list[dict]:
        """The first ``limit`` rows of a rollouts dump (default: the newest one)."""
        files = self.rollout_files()
        f = step_file or (files[-1] if files else None)
        if f is None:
            return []
        out = []
        with open(f) as fh:
            for line in fh:
                if len(out) >= limit:
                    break
                if line.strip():
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        continue
        return out


@dataclass
class Sources:
    evals: list[EvalFolder] = field(default_factory=list)
    runs: list[RunFolder] = field(default_factory=list)
    plays: list[Path] = field(default_factory=list)  # `tandem-rl play` folders (report/human.py)


def load_metrics(path: Path) -> tuple[list[dict], int]:
    """metrics.jsonl rows that parse and have a "step" (a half-written last line is skipped and counted)."""
    rows, skipped = [], 0
    with open(path) as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                skipped += 1
                continue
            if isinstance(row, dict) and "step" in row:
                rows.append(row)
            else:
                skipped += 1
    return rows, skipped


def load_eval_folder(path: Path, *, resamples: int = 1000, seed: int = 0) -> Optional[EvalFolder]:
    summaries = {}
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        if (sub / SUMMARY_FILE).is_file():
            summaries[sub.name] = json.loads((sub / SUMMARY_FILE).read_text())
        elif (sub / SAMPLES_FILE).is_file():
            transfer = read_jsonl(sub / TRANSFER_FILE, TransferRecord) if (sub / TRANSFER_FILE).is_file() else []
            summaries[sub.name] = label_summary(read_jsonl(sub / SAMPLES_FILE, SampleRecord), transfer,
                                                label=sub.name, resamples=resamples, seed=seed)
    if not summaries:
        return None
    comp, sweep = path / COMPARISON_FILE, path / "sweep.json"
    return EvalFolder(path, summaries, json.loads(comp.read_text()) if comp.is_file() else {},
                      json.loads(sweep.read_text()) if sweep.is_file() else {})


def load_sources(paths: list[str]) -> Sources:
    """Classify and read every folder; a folder that is neither is an error naming it."""
    src = Sources()
    for p in map(Path, paths):
        if not p.is_dir():
            raise InputFileError(f"{p}: {'not a folder' if p.exists() else 'no such folder'}")
        found = False
        if (p / "metrics.jsonl").is_file():
            rows, skipped = load_metrics(p / "metrics.jsonl")
            src.runs.append(RunFolder(p, p.name, rows, skipped))
            found = True
        if (p / PLAY_FILE).is_file():
            src.plays.append(p)
            found = True
        ev = load_eval_folder(p)
        if ev is not None:
            src.evals.append(ev)
            found = True
        if not found:
            raise InputFileError(f"{p} holds neither metrics.jsonl (a run) nor <label>/summary.json or "
                             f"<label>/samples.jsonl (an evaluation) nor {PLAY_FILE} (tandem-rl play)")
    return src
