"""decode="static" and "compiled" against the default dynamic path: the same rollouts, token for token.

The static path differs in everything that could go wrong: a preallocated cache, a full-width mask from the first
step, extra left padding (``pad_multiple``), finished rows that keep decoding instead of being dropped, and a cache
reused across calls. The dynamic path runs with ``check_every=1`` so that it drops finished rows as early as it can.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from tandem_rl.cogen.config import RolloutConfig
from tandem_rl.cogen.engine import CoGenerator
from tandem_rl.cogen.rollouts import FORWARD_STATS
from tandem_rl.cogen.static_decode import StaticDecoder, check_static_support
from tiny import ENGINE_TEXTS as TEXTS
from tiny import soften, tiny_model


@pytest.fixture(scope="module")
def prompts(tok):
    return [tok.encode(t) for t in TEXTS] * 3  # ragged: 1 to ~14 tokens, left-padded


def assert_same(a, b):
    assert a.response_ids == b.response_ids
    assert a.finish_reason == b.finish_reason
    assert [len(x) for x in a.author] == [len(x) for x in b.author] == [len(r) for r in a.response_ids]
    assert all(np.array_equal(x, y) for x, y in zip(a.author, b.author))
    for x, y in zip(a.logprob, b.logprob):
        np.testing.assert_allclose(x, y, atol=1e-4, rtol=0)
    for x, y in zip(a.partner_logprob, b.partner_logprob):
        np.testing.assert_allclose(x, y, atol=1e-4, rtol=0)  # nan == nan for solo
    # compute is not compared: static decoding pads the width and keeps finished rows (Rollouts.FORWARD_STATS)
    same = [k for k in a.stats if k != "seconds" and k not in FORWARD_STATS]
    assert {k: a.stats[k] for k in same} == {k: b.stats[k] for k in same} and set(a.stats) == set(b.stats)


def ends_from(base, n):
    """Tokens that end a few rows early (at different steps), picked from a run without them."""
    return sorted({base.response_ids[0][2], base.response_ids[5][n // 2]})


def check_ends_midway(out, n):
    lengths = [len(r) for r in out.response_ids]
    assert max(lengths) <= n
    assert sum(x < n - 1 for x in lengths) >= len(lengths) / 4, "too few rows end early to exercise compaction"
    assert len(set(lengths)) > 1


@pytest.mark.parametrize("pad_multiple", [1, 64])
def test_solo_greedy_static_equals_dynamic_with_eos(tok, pair, prompts, pad_multiple):
    senior, _ = pair
    n = 20
    rc = RolloutConfig(schedule="solo", max_new_tokens=n, temperature=0.0)
    eos = ends_from(CoGenerator(senior, None, tok, eos_token_ids=[]).generate(prompts, rc, seed=0), n)
    dyn = CoGenerator(senior, None, tok, eos_token_ids=eos, check_every=1).generate(prompts, rc, seed=0)
    sta = CoGenerator(senior, None, tok, eos_token_ids=eos, decode="static", pad_multiple=pad_multiple).generate(
        prompts, rc, seed=0)
    assert_same(dyn, sta)
    check_ends_midway(dyn, n)
    assert {"eos", "length"} <= set(dyn.finish_reason)


@pytest.mark.parametrize("schedule", ["word", "token", "chunk"])
def test_sampled_tandem_static_equals_dynamic_with_stops(tok, pair, prompts, schedule):
    senior, junior = pair
    n = 24
    rc = RolloutConfig(schedule=schedule, max_new_tokens=n, temperature=1.0, top_k=40, junior_top_p=0.9, p=0.5,
                       redraw_cap=4, chunk_size=3)
    base = CoGenerator(senior, junior, tok, eos_token_ids=[]).generate(prompts, rc, seed=7)
    rc.stop_token_ids = ends_from(base, n)
    dyn = CoGenerator(senior, junior, tok, check_every=1).generate(prompts, rc, seed=7)
    sta = CoGenerator(senior, junior, tok, decode="static").generate(prompts, rc, seed=7)
    assert_same(dyn, sta)
    check_ends_midway(dyn, n)
    assert "stop" in dyn.finish_reason and dyn.stats["author_changes"] > 5


def test_paragraph_schedule_static_equals_dynamic(tok):
    (newline,) = tok.encode("\n")
    models = []
    for seed in (0, 1):  # "\n" raised, so blank lines (and author switches) are frequent
        m = soften(tiny_model(tok, seed=seed), 0.1)
        m.lm_head.register_forward_hook(lambda mod, args, out: out + 3.0 * (torch.arange(out.shape[-1]) == newline))
        models.append(m)
    prompts = [tok.encode("First, compute 3 times 4 = 12."), tok.encode("x")] * 6
    rc = RolloutConfig(schedule="paragraph", max_new_tokens=30, temperature=1.0, max_turns=3)
    dyn = CoGenerator(*models, tok, check_every=1).generate(prompts, rc, seed=1)
    sta = CoGenerator(*models, tok, decode="static").generate(prompts, rc, seed=1)
    assert_same(dyn, sta)
    assert dyn.stats["author_changes"] >= 5 and len(set(map(len, dyn.response_ids))) > 1


def test_cache_is_reused_across_calls_and_reset(tok, pair, prompts):
    senior, junior = pair
    rc = RolloutConfig(schedule="word", max_new_tokens=12, temperature=1.0)
    dyn = CoGenerator(senior, junior, tok)
    sta = CoGenerator(senior, junior, tok, decode="static")
    other = [p[::-1] for p in prompts]  # same batch and padded width, different content
    first = sta.generate(prompts, rc, seed=2)
    keys = sta._static["senior"].cache.layers[0].keys
    second = sta.generate(other, rc, seed=3)
    assert sta._static["senior"].cache.layers[0].keys is keys  # same tensors: shapes and addresses repeat
    again = sta.generate(prompts, rc, seed=2)
    assert_same(first, again)  # nothing from the second call leaked through the reused cache
    assert_same(dyn.generate(other, rc, seed=3), second)
    assert_same(dyn.generate(prompts[:5], rc, seed=2), sta.generate(prompts[:5], rc, seed=2))  # new batch size
    sta.release_caches()
    assert sta._static["senior"].cache is None
    assert_same(first, sta.generate(prompts, rc, seed=2))


def test_compiled_equals_dynamic_and_reuses_the_compiled_step(tok, pair, prompts):
    senior, junior = pair
    rc = RolloutConfig(schedule="word", max_new_tokens=16, temperature=1.0, top_k=40)
    dyn = CoGenerator(senior, junior, tok, check_every=1)
    base = dyn.generate(prompts, rc, seed=5)
    rc.stop_token_ids = ends_from(base, 16)
    comp = CoGenerator(senior, junior, tok, decode="compiled")
    t0 = time.perf_counter()
    out = comp.generate(prompts, rc, seed=5)
    print(f"first compiled call (compiles the senior's and the junior's step): {time.perf_counter() - t0:.1f} s")
    assert_same(dyn.generate(prompts, rc, seed=5), out)
    check_ends_midway(out, 16)
    other = [p[::-1] for p in prompts]
    with torch._dynamo.config.patch(error_on_recompile=True):  # same (batch, width): no new compile
        again = comp.generate(other, rc, seed=6)
    assert_same(dyn.generate(other, rc, seed=6), again)
    with torch._dynamo.config.patch(recompile_limit=1):  # a new shape past the limit: a clear error
        with pytest.raises(RuntimeError, match="recompile limit .* new batch size or prompt width"):
            comp.generate(prompts[:3], rc, seed=5)


def test_errors_and_limits(tok, pair, prompts, monkeypatch):
    senior, _ = pair
    with pytest.raises(ValueError, match=r"decode \(config: rollout.decode\) must be one of"):
        CoGenerator(senior, None, tok, decode="cuda_graphs")
    with pytest.raises(ValueError, match="pad_multiple must be >= 1"):
        CoGenerator(senior, None, tok, decode="static", pad_multiple=0)

    from transformers import LlamaForCausalLM, MambaConfig, MambaForCausalLM, Qwen3Config, Qwen3ForCausalLM

    sliding = Qwen3ForCausalLM(Qwen3Config(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, head_dim=8, use_sliding_window=True, sliding_window=8,
        layer_types=["sliding_attention", "full_attention"]))
    with pytest.raises(ValueError, match=r"junior model Qwen3ForCausalLM has cache layers of type "
                                         r"\['StaticSlidingWindowLayer'\]: .* full-attention layers only"):
        CoGenerator(senior, sliding, tok, decode="compiled")
    CoGenerator(senior, sliding, tok)  # the dynamic path still takes it
    mamba = MambaForCausalLM(MambaConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1, state_size=4))
    # transformers <= 5.24 marks Mamba `_is_stateful`; 5.25 gives it a LinearAttentionLayer cache instead: either
    # way the static path must refuse it by name before decoding
    with pytest.raises(ValueError, match=r"senior model MambaForCausalLM (is stateful|has cache layers of type "
                                         r"\['LinearAttentionLayer'\])"):
        CoGenerator(mamba, None, tok, decode="static")

    class IgnoresCache(LlamaForCausalLM):
        def forward(self, *args, cache=None, **kw):
            return super().forward(*args, cache=None, **kw)

    ignoring = IgnoresCache(senior.config).eval()
    with pytest.raises(RuntimeError, match="IgnoresCache did not use the StaticCache"):
        CoGenerator(ignoring, None, tok, decode="static").generate(prompts, RolloutConfig(schedule="solo"), seed=0)

    dec = StaticDecoder(senior, vocab=len(tok))
    ids, mask, pos = torch.ones(2, 3, dtype=torch.long), torch.ones(2, 8, dtype=torch.long), torch.zeros(2, 3).long()
    with pytest.raises(RuntimeError, match="call start"):
        dec(ids, mask, pos)
    dec.start(2, 8)
    with pytest.raises(ValueError, match=r"full-width buffer \[2, 8\], got \[2, 4\]"):
        dec(ids, mask[:, :4], pos)
    with torch.inference_mode():
        assert dec(ids, mask, pos).shape == (2, len(tok))
    with pytest.raises(ValueError, match="one token per row"):
        dec(ids, mask, pos)

    import transformers

    monkeypatch.setattr(transformers, "__version__", "4.57.1")
    with pytest.raises(ValueError, match="needs transformers >= 5"):
        check_static_support(senior, "senior")
