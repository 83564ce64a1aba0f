"""Problems in, prompts out: loaders, validation, the paper's recipes, reasoning-gym, prompt building.

    from tandem_rl.data import load_problems, split_holdout, encode_problems
    ps = load_problems(cfg.data)                        # ProblemSet(problems, skipped)
    train, held = split_holdout(ps.problems, cfg.data.holdout, cfg.data.shuffle_seed)
    enc = encode_problems(tokenizer, train, cfg.data)   # (problems, prompt_ids, skipped)
"""

from tandem_rl.data.config import PAPER_INSTRUCTION, RELEASE_INSTRUCTION, RUN_INSTRUCTION, DataConfig
from tandem_rl.data.gym import gym_problems
from tandem_rl.data.loading import load_problems, split_holdout
from tandem_rl.data.problem import DataError, Problem, ProblemSet, SkippedRow
from tandem_rl.data.prompts import EncodedProblems, build_prompt_ids, build_prompt_text, encode_problems, user_message
from tandem_rl.data.readers import read_rows
from tandem_rl.data.recipes import RECIPES, Part

__all__ = ["DataConfig", "PAPER_INSTRUCTION", "RELEASE_INSTRUCTION", "RUN_INSTRUCTION", "DataError", "Problem",
           "ProblemSet", "SkippedRow", "load_problems",
           "split_holdout", "build_prompt_ids", "build_prompt_text", "encode_problems", "EncodedProblems",
           "user_message", "gym_problems", "read_rows", "RECIPES", "Part"]
