"""How responses are graded."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RewardConfig:
    answer_format: str = field(default="boxed", metadata={"help": (
        "'boxed': the last complete \\boxed{} / \\fbox{} of the response (paper's rule as written; an unclosed "
        "last box falls back to the previous one; '\\boxed 5' reads '5'); 'boxed-strict': the authors' code "
        "(CSSLab/Tandem-RLVR): only the last \\boxed{...}, scored 0 when it never closes, \\fbox and "
        "'\\boxed 5' not accepted (the paper recipe uses it); 'gsm8k': the number after the last '####'.")})
    timeout_s: float = field(default=5.0, metadata={"help": "Hard per-answer grading timeout (seconds); a timeout scores 0."})
    workers: int = field(default=2, metadata={"help": (
        "Grader processes. 0 = no pool: the cheap stages run in this process and math-verify in one helper process "
        "started on first need (a hard timeout needs a process that can be killed).")})
    memory_limit_mb: int = field(default=4096, metadata={"help": (
        "Address-space limit of each grader process (MiB; 0 = none): a runaway sympy allocation becomes a graded "
        "error instead of a machine-wide out-of-memory kill.")})
