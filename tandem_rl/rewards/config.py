r"""How responses are graded, and (opt-in) which responses may earn a training reward at all.

``reward.reject_regex`` (off by default): a training rollout whose response text matches the regex anywhere gets
reward 0, whatever its answer. It turns "reward only solutions written in notation X" into one setting, e.g. the
control of docs/sweep.md ("Why a weaker junior costs accuracy"): vanilla GRPO rewarded only for the world's plain
notation, with the demo's private-notation regex::

    >>> cfg = RewardConfig(reject_regex=r"(?m)<<|>>|^ ?\d+ ?$")
    >>> cfg.rejected([" 20 minus 2 is 18 .\n\n \\boxed{18}", " <<20-2=18>>\n\n \\boxed{18}", " 18\n\n \\boxed{18}"])
    [False, True, True]
    >>> RewardConfig(reject_regex="(")
    Traceback (most recent call last):
    ...
    ValueError: reward.reject_regex '(' is not a valid regular expression: missing ), unterminated subpattern at position 0

Only training reads it (``tandem_rl/train/rollout.py``, where ``grpo.senior_answer_only`` is applied too); evaluation
and validation during training grade every answer as usual, so accuracy stays comparable across arms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional


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
    reject_regex: Optional[str] = field(default=None, metadata={"help": (
        "Off by default (null). A Python regex: a training rollout whose response text matches it anywhere gets "
        "reward 0 whatever its answer (logged: reject_regex_matched, reject_regex_zeroed). Training only; "
        "evaluation grades answers as usual. E.g. '(?m)<<|>>|^ ?\\d+ ?$' rewards only the world's plain notation "
        "(docs/sweep.md).")})

    def __post_init__(self) -> None:
        self.validate()  # at load time, so a bad pattern fails before any model loads

    def validate(self) -> None:
        if self.reject_regex is not None:
            try:
                re.compile(self.reject_regex)
            except re.error as err:
                raise ValueError(f"reward.reject_regex {self.reject_regex!r} is not a valid regular expression: "
                                 f"{err}") from None

    def rejected(self, texts: list[str]) -> list[bool]:
        """Per text, whether ``reject_regex`` matches anywhere in it (all False when the option is off)."""
        if self.reject_regex is None:
            return [False] * len(texts)
        pattern = re.compile(self.reject_regex)
        return [pattern.search(t) is not None for t in texts]
