"""Evaluation protocols (Jiao et al. 2026, §5): decoding settings and which metrics to compute."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class EvalConfig:
    benchmarks: list[str] = field(default_factory=list, metadata={"help": (
        "Data sources to evaluate on (same forms as data.source); results are per benchmark plus a macro average.")})
    n_samples: int = field(default=8, metadata={"help": "Samples per problem; pass@k is reported for k = 1..n. Paper: 8."})
    temperature: float = field(default=0.7, metadata={"help": "Evaluation temperature. Paper: 0.7."})
    top_p: float = field(default=0.8, metadata={"help": "Evaluation top_p. Paper: 0.8."})
    top_k: int = field(default=20, metadata={"help": "Evaluation top_k. Paper: 20."})
    max_new_tokens: int = field(default=3000, metadata={"help": "Evaluation response budget. Paper: 3000."})
    handoff_schedules: list[str] = field(default_factory=lambda: ["paragraph"], metadata={"help": (
        "Engine schedules for handoff robustness (paper: paragraph = reasoning-step alternation).")})
    max_rounds: int = field(default=150, metadata={"help": "Paragraph schedule: stop after this many turns. Paper: 150."})
    notation_regex: Optional[str] = field(default=None, metadata={"help": (
        "Regex whose presence in a response counts toward the notation rate (e.g. '<<|>>' for calculator jargon).")})
    bootstrap: int = field(default=1000, metadata={"help": "Bootstrap resamples (over problems) for confidence intervals."})
    batch_size: int = field(default=64, metadata={"help": "Rows per engine call."})
    seed: int = field(default=0, metadata={"help": "Evaluation sampling seed."})
