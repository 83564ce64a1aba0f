"""Where the problems come from and how prompts are built."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

PAPER_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


@dataclass
class DataConfig:
    source: str = field(default="", metadata={"help": (
        "Problems: a .jsonl/.parquet/.csv file, a local HF datasets folder, a recipe name (deepscaler, aime, amc, "
        "minerva, math500, gym:<generator>) or a hub dataset name (needs a reachable hub).")})
    split: str = field(default="train", metadata={"help": "Dataset split for folders and hub datasets."})
    problem_column: Optional[str] = field(default=None, metadata={"help": (
        "Column holding the problem text; null = first of problem/question/prompt.")})
    answer_column: Optional[str] = field(default=None, metadata={"help": (
        "Column holding the gold answer; null = first of answer/final_answer, else the boxed answer of solution.")})
    instruction: str = field(default=PAPER_INSTRUCTION, metadata={"help": (
        "Appended to the problem in the user message (paper: the boxed-answer instruction, no system prompt).")})
    on_error: str = field(default="raise", metadata={"help": (
        "Malformed rows: 'raise' (stop, naming file/row/field) or 'skip' (drop and count).")})
    holdout: int = field(default=0, metadata={"help": "Problems held out (deterministically) for validation. Paper: 1000."})
    shuffle_seed: int = field(default=0, metadata={"help": "Seed of the deterministic shuffle before the hold-out split."})
    limit: Optional[int] = field(default=None, metadata={"help": "Use at most this many problems (after shuffling)."})
    max_prompt_tokens: int = field(default=1024, metadata={"help": "Prompts longer than this are skipped and counted. Paper: 1024."})
