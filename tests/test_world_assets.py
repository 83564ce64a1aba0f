"""The world tokenizer and the shipped checkpoints."""

import json
import random

import pytest
import torch

from tandem_rl.world.assets import ROOT, asset_dir, problems_file
from tandem_rl.world.problems import MAX_VALUE, jargon_solution, plain_solution, sample_problem
from tandem_rl.world.tokenizer import build_tokenizer


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer()


def test_tokenizer_words_numbers_and_roundtrip(tok):
    assert 150 <= len(tok) <= 500
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    for v in range(MAX_VALUE + 1):
        (a,), (b,) = tok(f" {v}")["input_ids"], tok(f"{v}")["input_ids"]
        assert tok.convert_ids_to_tokens(a) == f"Ġ{v}" and tok.convert_ids_to_tokens(b) == str(v)
    rng = random.Random(0)
    for _ in range(50):
        p = sample_problem(rng)
        for text in (p.text, plain_solution(p), jargon_solution(p), "ünïcode ✓ still encodes"):
            assert tok.decode(tok(text)["input_ids"]) == text
        toks = tok.convert_ids_to_tokens(tok(jargon_solution(p))["input_ids"])
        # one word per annotation: only the annotation's first token (and the answer's) starts a word
        assert sum(t.startswith("Ġ") for t in toks) == len(p.ops) + 1
        toks = tok.convert_ids_to_tokens(tok(plain_solution(p))["input_ids"])
        assert toks.count("ĊĊ") == len(p.ops)  # one blank line per step: the paragraph schedule's boundary


def test_chat_template(tok):
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False)
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_shipped_tokenizer_matches_the_recipe(tok):
    from transformers import AutoTokenizer

    for name in ("senior", "junior"):
        shipped = AutoTokenizer.from_pretrained(asset_dir(name))
        assert shipped.get_vocab() == tok.get_vocab()
        assert shipped.eos_token == "<|im_end|>" and shipped.chat_template == tok.chat_template
    assert json.loads(build_tokenizer().backend_tokenizer.to_str()) == json.loads(tok.backend_tokenizer.to_str())


def test_asset_lookup_errors():
    with pytest.raises(ValueError, match="not one of"):
        asset_dir("teacher")
    with pytest.raises(ValueError, match="not one of"):
        problems_file("dev")
    assert problems_file("train").parent == ROOT / "problems"


def test_shipped_models_load_and_are_tiny_tied_llamas():
    from tandem_rl.models import load_model, load_tokenizer

    tok = load_tokenizer("world:senior")
    sizes = {}
    for name in ("senior", "junior"):
        m = load_model(f"world:{name}", dtype="float32", device="cpu")
        assert m.config.tie_word_embeddings and m.config.vocab_size == len(tok)
        assert m.get_input_embeddings().weight.data_ptr() == m.get_output_embeddings().weight.data_ptr()
        sizes[name] = sum(p.numel() for p in m.parameters())
        with torch.no_grad():
            logits = m(torch.tensor([tok("Sam has 3 apples.")["input_ids"]])).logits
        assert torch.isfinite(logits).all()
    assert 300_000 < sizes["junior"] < 1_000_000 < 1_500_000 < sizes["senior"] < 6_000_000


def test_shipped_problem_files_are_disjoint():
    rows = {s: [json.loads(x) for x in problems_file(s).read_text().splitlines()] for s in ("train", "test")}
    assert len(rows["train"]) >= 1000 and len(rows["test"]) >= 200
    assert not {r["key"] for r in rows["train"]} & {r["key"] for r in rows["test"]}
