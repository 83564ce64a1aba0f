"""Where the problems come from and how prompts are built."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

# Two instructions from the authors, appended to every training and evaluation problem (problem + " " + text):
# RELEASE_INSTRUCTION is the text of their cleaned public release (CSSLab/Tandem-RLVR, data/build_deepscaler.py and
# data/build_evals.py), our default; RUN_INSTRUCTION is the one the runs behind the paper's tables used (method notes,
# docs/reproduce.md), which configs/paper-qwen3-4b-deepscaler.yaml sets.
RELEASE_INSTRUCTION = ("Solve the following math problem step by step. Put your final answer inside \\boxed{}, like "
                       "\\boxed{42} or \\boxed{\\frac{1}{2}}.")
RUN_INSTRUCTION = "Let's think step by step and output the final answer within \\boxed{}."
PAPER_INSTRUCTION = RELEASE_INSTRUCTION  # the earlier name of the default, kept for callers


@dataclass
class DataConfig:
    source: str = field(default="", metadata={"help": (
        "Problems: a .jsonl/.parquet/.csv file, a local HF datasets folder, a recipe name (deepscaler, aime, amc, "
        "minerva, math500, gym:<generator>), olympiadbench:<file> (a local published OlympiadBench subset file; "
        "'olympiadbench' alone = <recipe_dir>/olympiadbench.json) or a hub dataset name (needs a reachable hub).")})
    split: str = field(default="train", metadata={"help": "Dataset split for folders and hub datasets."})
    problem_column: Optional[str] = field(default=None, metadata={"help": (
        "Column holding the problem text; null = first of problem/question/prompt.")})
    answer_column: Optional[str] = field(default=None, metadata={"help": (
        "Column holding the gold answer; null = first of answer/final_answer, else the boxed answer of solution.")})
    instruction: str = field(default=RELEASE_INSTRUCTION, metadata={"help": (
        "Appended to the problem (after one space) in the single user message; no system prompt. Default: the text "
        "of the authors' cleaned release (CSSLab/Tandem-RLVR data/build_deepscaler.py: 'Solve the following math "
        "problem step by step. Put your final answer inside \\boxed{}, ...'). The runs behind the paper used "
        "\"Let's think step by step and output the final answer within \\boxed{}.\" (RUN_INSTRUCTION; the paper "
        "recipe sets it).")})
    on_error: str = field(default="raise", metadata={"help": (
        "Malformed rows: 'raise' (stop, naming file/row/field) or 'skip' (drop and count).")})
    holdout: int = field(default=0, metadata={"help": "Problems held out (deterministically) for validation. Paper: 1000."})
    shuffle_seed: int = field(default=0, metadata={"help": "Seed of the deterministic shuffle before the hold-out split."})
    limit: Optional[int] = field(default=None, metadata={"help": "Use at most this many problems (after shuffling)."})
    max_prompt_tokens: int = field(default=1024, metadata={"help": "Prompts longer than this are skipped and counted. Paper: 1024."})
    recipe_dir: Optional[str] = field(default=None, metadata={"help": (
        "Offline copies of a recipe's hub datasets: <dir>/<part>.jsonl|.parquet|.csv or a save_to_disk folder "
        "<dir>/<part>/, in the hub's columns (parts: deepscaler, aime24, aime25, aime26, amc23, amc24, amc25, "
        "math500, minerva; and olympiadbench.json, which has no hub source). null = load from the hub.")})
    gym_size: int = field(default=1000, metadata={"help": "Problems drawn from a gym:<generator> source."})
    gym_seed: int = field(default=0, metadata={"help": "Seed of the reasoning-gym generator (gym:<generator> sources)."})
    plain_prompt: bool = field(default=False, metadata={"help": (
        "Use the bare user message as the prompt when the tokenizer has no chat template (not the paper's setup; "
        "otherwise a missing template is an error).")})
