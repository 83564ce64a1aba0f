"""Prompts: the senior's chat template around one user message, no system prompt (as the paper's rollouts).

The user message is the problem, a space, then the instruction (the authors append their boxed-answer instruction to
the problem the same way)::

    >>> user_message("What is 2+3?", "Put the answer in \\\\boxed{}.")
    'What is 2+3? Put the answer in \\\\boxed{}.'

    ids = build_prompt_ids(tok, "What is 2+3?", cfg.instruction)
    tok.decode(ids)   # '<|im_start|>user\\nWhat is 2+3? Solve ...<|im_end|>\\n<|im_start|>assistant\\n'

A tokenizer without a chat template is an error unless ``plain_text=True`` (then the prompt is the user message
itself, a setup that differs from the paper's).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

from tandem_rl.data.config import DataConfig
from tandem_rl.data.problem import Problem, SkippedRow


def user_message(problem_text: str, instruction: str) -> str:
    """The problem followed by the instruction (no instruction: the problem alone)."""
    instruction = instruction.strip()
    return f"{problem_text.strip()} {instruction}" if instruction else problem_text.strip()


def build_prompt_text(tokenizer, problem_text: str, instruction: str, *, plain_text: bool = False) -> str:
    """The prompt as text: the chat template applied to one user message, generation prompt added."""
    message = user_message(problem_text, instruction)
    if not getattr(tokenizer, "chat_template", None):
        if plain_text:
            return message
        raise ValueError(
            f"the tokenizer {getattr(tokenizer, 'name_or_path', '') or type(tokenizer).__name__} has no chat "
            "template; the paper builds prompts with the senior's chat template. Use a tokenizer that has one, or "
            "ask for plain-text prompts (data.plain_prompt=true / plain_text=True).")
    return tokenizer.apply_chat_template([{"role": "user", "content": message}], tokenize=False,
                                         add_generation_prompt=True)


def build_prompt_ids(tokenizer, problem_text: str, instruction: str, *, plain_text: bool = False) -> list[int]:
    """Token ids of ``build_prompt_text`` (the template brings its own special tokens: none are added here)."""
    text = build_prompt_text(tokenizer, problem_text, instruction, plain_text=plain_text)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


class EncodedProblems(NamedTuple):
    """Problems that fit, their prompt ids (same order), and the ones skipped for length."""

    problems: list[Problem]
    prompt_ids: list[list[int]]
    skipped: list[SkippedRow]


def encode_problems(tokenizer, problems: Sequence[Problem], cfg: DataConfig) -> EncodedProblems:
    """Build every prompt; those over ``cfg.max_prompt_tokens`` are skipped and counted (paper: 1024)."""
    kept, ids, skipped = [], [], []
    for p in problems:
        prompt = build_prompt_ids(tokenizer, p.problem, cfg.instruction, plain_text=cfg.plain_prompt)
        if len(prompt) > cfg.max_prompt_tokens:
            skipped.append(SkippedRow(p.source, int(p.meta.get("row", 0)), "problem",
                                      f"prompt has {len(prompt)} tokens > max_prompt_tokens={cfg.max_prompt_tokens}"))
            continue
        kept.append(p)
        ids.append(prompt)
    return EncodedProblems(kept, ids, skipped)
