"""How responses are graded."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RewardConfig:
    answer_format: str = field(default="boxed", metadata={"help": (
        "'boxed': the last \\boxed{} / \\fbox{} of the response (paper); 'gsm8k': the number after the last '####'.")})
    timeout_s: float = field(default=5.0, metadata={"help": "Hard per-answer grading timeout (seconds); a timeout scores 0."})
    workers: int = field(default=2, metadata={"help": "Grader processes (0 = grade in this process, timeouts still enforced)."})
