"""Cost per role from the engine: forward time, positions processed, parameters x positions, tokens written."""

from __future__ import annotations

import pytest

from tandem_rl.cogen.config import RolloutConfig
from tandem_rl.cogen.engine import CoGenerator
from tandem_rl.cogen.rollouts import FORWARD_STATS, Rollouts
from tiny import ENGINE_TEXTS, tiny_model, tiny_tokenizer


@pytest.fixture(scope="module")
def setup():
    tok = tiny_tokenizer()
    senior, junior = tiny_model(tok, seed=0), tiny_model(tok, seed=1, hidden=32)
    prompts = [tok.encode(t) for t in ENGINE_TEXTS]
    return tok, senior, junior, prompts


def params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("schedule", ["solo", "word", "junior"])
def test_positions_time_and_param_tokens(setup, schedule):
    tok, senior, junior, prompts = setup
    # no EOS and no compaction: every row runs all n steps, so the positions are known exactly
    gen = CoGenerator(senior, junior, tok, eos_token_ids=[], check_every=1000)
    n = 7
    out = gen.generate(prompts, RolloutConfig(schedule=schedule, max_new_tokens=n, temperature=1.0), seed=3)
    width = max(map(len, prompts))
    expected = len(prompts) * width + len(prompts) * (n - 1)  # prefill (padding included) + one per later step
    runs = {"solo": ("senior",), "junior": ("junior",), "word": ("senior", "junior")}[schedule]
    for role, model in (("senior", senior), ("junior", junior)):
        st = out.stats
        if role in runs:
            assert st[f"{role}_positions"] == expected
            assert st[f"{role}_forward_seconds"] > 0
            assert st[f"{role}_param_tokens"] == expected * params(model)
        else:
            assert st[f"{role}_positions"] == 0 and st[f"{role}_forward_seconds"] == 0.0
            assert st[f"{role}_param_tokens"] == 0
    assert out.stats["senior_forward_seconds"] + out.stats["junior_forward_seconds"] <= out.stats["seconds"]
    c = out.cost()
    assert c["senior_tokens_written"] == sum(out.senior_tokens())
    assert c["senior_tokens_written"] + c["junior_tokens_written"] == sum(len(r) for r in out.response_ids)
    assert c["senior_tokens_written"] == sum(int(a.sum()) for a in out.author)  # the authorship sums
    assert all(k in c for k in FORWARD_STATS)


def test_compaction_counts_fewer_positions_and_concat_sums(setup):
    tok, senior, junior, prompts = setup
    rc = RolloutConfig(schedule="word", max_new_tokens=12, temperature=1.0)
    a = CoGenerator(senior, junior, tok, check_every=1).generate(prompts, rc, seed=0)
    b = CoGenerator(senior, junior, tok, check_every=1000).generate(prompts, rc, seed=0)
    assert a.response_ids == b.response_ids
    assert a.stats["senior_positions"] <= b.stats["senior_positions"]
    both = Rollouts.concat([a, b])
    for k in FORWARD_STATS:
        assert both.stats[k] == pytest.approx(a.stats[k] + b.stats[k])
    assert both.cost()["junior_tokens_written"] == a.cost()["junior_tokens_written"] + b.cost()["junior_tokens_written"]
