"""Prompt building: the senior's chat template, one user message, no system prompt, length skips."""

import pytest

from tiny import tiny_tokenizer
from tandem_rl.data import (PAPER_INSTRUCTION, DataConfig, Problem, build_prompt_ids, build_prompt_text,
                            encode_problems, user_message)


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def test_chat_template_one_user_message_no_system(tok):
    ids = build_prompt_ids(tok, "What is 2+3?", PAPER_INSTRUCTION)
    text = tok.decode(ids)
    # independent reference: the ChatML layout written out by hand
    assert text == ("<|im_start|>user\nWhat is 2+3? " + PAPER_INSTRUCTION + "<|im_end|>\n<|im_start|>assistant\n")
    assert "system" not in text and text.count("<|im_start|>") == 2
    assert ids[0] == tok.convert_tokens_to_ids("<|im_start|>")


def test_default_instruction_is_the_authors_boxed_instruction():
    assert DataConfig().instruction == PAPER_INSTRUCTION and "\\boxed{}" in PAPER_INSTRUCTION
    assert user_message(" Q? ", "") == "Q?"


def test_no_chat_template_is_a_clear_error_unless_plain(tok):
    bare = tiny_tokenizer()
    bare.chat_template = None
    with pytest.raises(ValueError, match="no chat template"):
        build_prompt_ids(bare, "Q?", "Do it.")
    assert bare.decode(build_prompt_ids(bare, "Q?", "Do it.", plain_text=True)) == "Q? Do it."
    assert build_prompt_text(bare, "Q?", "Do it.", plain_text=True) == "Q? Do it."


def test_long_prompts_skipped_and_counted(tok):
    problems = [Problem("a", "What is 2+3?", "5", "t", {"row": 1}),
                Problem("b", "apples " * 300, "1", "t", {"row": 2}),
                Problem("c", "What is 1+1?", "2", "t", {"row": 3})]
    enc = encode_problems(tok, problems, DataConfig(max_prompt_tokens=120))
    assert [p.id for p in enc.problems] == ["a", "c"] and len(enc.prompt_ids) == 2
    assert [(s.row, s.field) for s in enc.skipped] == [(2, "problem")]
    assert "max_prompt_tokens=120" in enc.skipped[0].reason
    assert all(len(ids) <= 120 for ids in enc.prompt_ids)
    assert enc.prompt_ids[0] == build_prompt_ids(tok, "What is 2+3?", PAPER_INSTRUCTION)
