"""The lockstep engine against independent references: HF generate, full recomputation, the sampling distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from tandem_rl.cogen.config import RolloutConfig
from tandem_rl.cogen.engine import CoGenerator
from tiny import soften, tiny_model, tiny_tokenizer


def hf_greedy(model, prompts, n, pad, eos):
    width = max(map(len, prompts))
    ids = torch.full((len(prompts), width), pad)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(p)
        mask[i, width - len(p):] = 1
    out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=n, pad_token_id=pad,
                         eos_token_id=eos)
    rows = []
    for r in out[:, width:].tolist():
        rows.append(r[: r.index(eos) + 1] if eos in r else r)
    return rows


@pytest.mark.parametrize("which", ["senior", "junior"])
def test_solo_greedy_equals_hf_generate(tok, pair, prompts, which):
    model = pair[0] if which == "senior" else pair[1]
    eos = 7  # a common token, so some rows end early and others run to the budget
    gen = CoGenerator(model, None, tok, eos_token_ids=[eos])
    out = gen.generate(prompts, RolloutConfig(schedule="solo", max_new_tokens=24, temperature=0.0), seed=0)
    ref = hf_greedy(model, prompts, 24, tok.pad_token_id, eos)
    assert out.response_ids == ref
    assert out.finish_reason == ["eos" if r[-1] == eos else "length" for r in ref]
    assert all(np.all(a == 1) for a in out.author) and all(np.all(lp == 0) for lp in out.logprob)
    assert all(np.isnan(x).all() for x in out.partner_logprob)


def full_logprobs(model, prompt, response, vocab):
    """Log-softmax at every response position from one uncached forward pass over prompt + response."""
    ids = torch.tensor([prompt + response])
    with torch.no_grad():
        logits = model(input_ids=ids, use_cache=False).logits[0, len(prompt) - 1: -1, :vocab]
    return torch.log_softmax(logits.float(), -1).gather(-1, torch.tensor(response)[:, None])[:, 0].numpy()


@pytest.mark.parametrize("schedule", ["word", "token", "chunk"])
def test_cached_logprobs_equal_full_recompute_across_author_changes(tok, pair, prompts, schedule):
    senior, junior = pair
    stop = list(range(40, 60))  # rows stop at different steps, so finished rows are dropped mid-batch
    gen = CoGenerator(senior, junior, tok, check_every=1)
    rc = RolloutConfig(schedule=schedule, max_new_tokens=30, temperature=1.0, p=0.5, redraw_cap=4, chunk_size=3,
                       stop_token_ids=stop)
    out = gen.generate(prompts * 2, rc, seed=3)
    assert out.stats["author_changes"] > 5
    assert len(set(map(len, out.response_ids))) > 1
    for i, (p, r) in enumerate(zip(out.prompt_ids, out.response_ids)):
        s_lp, j_lp = full_logprobs(senior, p, r, len(tok)), full_logprobs(junior, p, r, len(tok))
        a = out.author[i].astype(bool)
        # T = 1, no truncation: the author's sampling log-prob is its raw log-prob; the partner's is raw too.
        np.testing.assert_allclose(out.logprob[i], np.where(a, s_lp, j_lp), atol=2e-4, rtol=0)
        np.testing.assert_allclose(out.partner_logprob[i], np.where(a, j_lp, s_lp), atol=2e-4, rtol=0)


def test_tokens_follow_their_authors_sampling_distribution(tok, pair):
    """Chi-square goodness of fit at significance 0.001 (fixed seed): the first response token of many identical
    prompts, split by author, against each author's own truncated, tempered distribution."""
    senior, junior = pair
    prompt = tok.encode("The answer is")
    n = 4000
    rc = RolloutConfig(schedule="token", p=0.5, max_new_tokens=1, temperature=3.0, top_k=25, top_p=1.0,
                       junior_temperature=1.0, junior_top_p=0.9, junior_top_k=0)
    out = CoGenerator(senior, junior, tok).generate([prompt] * n, rc, seed=11)
    first = np.array([r[0] for r in out.response_ids])
    author = np.array([a[0] for a in out.author])
    assert abs(author.sum() - n / 2) < 5 * math.sqrt(n / 4)
    with torch.no_grad():
        s_logits = senior(input_ids=torch.tensor([prompt])).logits[0, -1, : len(tok)].double() / 3.0
        j_logits = junior(input_ids=torch.tensor([prompt])).logits[0, -1, : len(tok)].double() / 1.0
    s_probs = torch.zeros_like(s_logits)
    top = s_logits.topk(25).indices
    s_probs[top] = s_logits[top].softmax(-1)
    jp = j_logits.softmax(-1)
    order = jp.argsort(descending=True)
    keep = order[: int(((jp[order].cumsum(0) - jp[order]) < 0.9).sum())]
    j_probs = torch.zeros_like(jp)
    j_probs[keep] = jp[keep] / jp[keep].sum()
    for who, probs in ((1, s_probs.numpy()), (0, j_probs.numpy())):
        toks = first[author == who]
        assert probs[toks].min() > 0, "a token outside the author's top-k / top-p set was drawn"
        counts = np.bincount(toks, minlength=len(probs))
        expected = probs * len(toks)
        big = expected >= 5  # pool the rare tokens into one bin
        obs = np.append(counts[big], counts[~big].sum())
        exp = np.append(expected[big], expected[~big].sum())
        obs, exp = (obs, exp) if exp[-1] > 0 else (obs[:-1], exp[:-1])
        assert len(obs) > 3
        p_value = stats.chisquare(obs, exp).pvalue
        assert p_value > 1e-3, f"author {who}: chi-square p = {p_value}"
        rows = np.flatnonzero(author == who)
        np.testing.assert_allclose([out.logprob[i][0] for i in rows], np.log(probs[first[rows]]), atol=1e-4)


def greedy_tandem(gen, prompts, schedule="chunk", **kw):
    rc = RolloutConfig(schedule=schedule, max_new_tokens=12, temperature=0.0, chunk_size=2, **kw)
    return gen.generate(prompts, rc, seed=0)


@pytest.mark.parametrize("who,pos", [("senior", 0), ("junior", 2)])
@pytest.mark.parametrize("as_stop", [False, True])
def test_eos_or_stop_from_either_model_ends_the_row(tok, pair, prompts, who, pos, as_stop):
    senior, junior = pair
    base = greedy_tandem(CoGenerator(senior, junior, tok, eos_token_ids=[299]), prompts[:1])
    row = base.response_ids[0]
    assert base.author[0][pos] == (who == "senior")
    end = row[pos]
    first = row.index(end)  # greedy, so the rerun is identical up to the first occurrence of `end`
    if as_stop:
        out = greedy_tandem(CoGenerator(senior, junior, tok, eos_token_ids=[299]), prompts[:1], stop_token_ids=[end])
    else:
        out = greedy_tandem(CoGenerator(senior, junior, tok, eos_token_ids=[end]), prompts[:1])
    assert out.response_ids[0] == row[: first + 1]
    assert out.finish_reason == ["stop" if as_stop else "eos"]


def test_max_new_tokens_and_seeding(tok, pair, prompts):
    gen = CoGenerator(*pair, tok)
    rc = RolloutConfig(schedule="word", max_new_tokens=9, temperature=1.0)
    a, b, c = (gen.generate(prompts, rc, seed=s) for s in (5, 5, 6))
    assert all(len(r) == 9 for r in a.response_ids) and a.finish_reason == ["length"] * len(prompts)
    assert a.stats["decode_steps"] == 9 and a.stats["tokens"] == 9 * len(prompts)
    assert a.response_ids == b.response_ids and all(np.array_equal(x, y) for x, y in zip(a.author, b.author))
    assert a.response_ids != c.response_ids


def test_dropping_finished_rows_does_not_change_greedy_results(tok, pair, prompts):
    senior, junior = pair
    rc = RolloutConfig(schedule="word", max_new_tokens=20, temperature=0.0)
    base = CoGenerator(senior, junior, tok).generate(prompts * 3, rc, seed=0)
    rc.stop_token_ids = [base.response_ids[0][3], base.response_ids[2][9]]  # some rows stop early, some don't
    eager = CoGenerator(senior, junior, tok, check_every=1).generate(prompts * 3, rc, seed=0)
    lazy = CoGenerator(senior, junior, tok, check_every=10**6).generate(prompts * 3, rc, seed=0)
    assert eager.response_ids == lazy.response_ids
    assert eager.finish_reason == lazy.finish_reason and "stop" in eager.finish_reason
    assert all(np.array_equal(x, y) for x, y in zip(eager.author, lazy.author))
    assert len(set(map(len, eager.response_ids))) > 1


def test_paragraph_schedule_in_the_engine(tok, pair):
    (newline,) = tok.encode("\n")
    models = []
    for seed in (0, 1):  # fresh models whose "\n" logit is raised, so blank lines (two "\n") are frequent
        m = soften(tiny_model(tok, seed=seed), 0.1)
        m.lm_head.register_forward_hook(lambda mod, args, out: out + 3.0 * (torch.arange(out.shape[-1]) == newline))
        models.append(m)
    gen = CoGenerator(*models, tok)
    prompts = [tok.encode("First, compute 3 times 4 = 12.")] * 16
    rc = RolloutConfig(schedule="paragraph", max_new_tokens=30, temperature=1.0, stop_token_ids=[])
    out = gen.generate(prompts, rc, seed=1)
    texts = [tok.decode([i]) for i in range(len(tok))]
    switched = 0
    for r, a in zip(out.response_ids, out.author):
        assert a[0] == 1
        ends = [(("" if t == 0 else texts[r[t - 1]]) + texts[x]).endswith("\n\n") for t, x in enumerate(r[:-1])]
        assert list(np.diff(a.astype(int)) != 0) == ends
        switched += sum(ends)
    assert switched >= 3
    limited = gen.generate(prompts, RolloutConfig(**{**rc.__dict__, "max_turns": 1}), seed=1)
    for r, full, why, full_why in zip(limited.response_ids, out.response_ids, limited.finish_reason,
                                      out.finish_reason):
        cut = [t for t in range(len(full))
               if (("" if t == 0 else texts[full[t - 1]]) + texts[full[t]]).endswith("\n\n")]
        assert r == (full[: cut[0] + 1] if cut else full)  # the row ends right after its first turn
        assert why == ("length" if cut else full_why)


def test_modes_restored_and_errors(tok, pair, prompts):
    senior, junior = pair
    senior.train()
    try:
        out = CoGenerator(senior, junior, tok).generate(prompts, RolloutConfig(max_new_tokens=3), seed=0)
        assert senior.training and not junior.training and len(out) == len(prompts)
    finally:
        senior.eval()
    with pytest.raises(ValueError, match="needs a junior model"):
        CoGenerator(senior, None, tok).generate(prompts, RolloutConfig(schedule="word"), seed=0)
    with pytest.raises(ValueError, match="junior model has 100 output logits but the tokenizer has 300"):
        CoGenerator(senior, tiny_model(tok, vocab_size=100), tok)
    other = tiny_tokenizer()
    other.add_tokens(["<x>"])
    with pytest.raises(ValueError, match="sizes 300 vs 301"):
        CoGenerator(senior, junior, tok, junior_tokenizer=other)
    with pytest.raises(ValueError, match="prompt 1 is empty"):
        CoGenerator(senior, junior, tok).generate([[1], []], RolloutConfig(), seed=0)
    with pytest.raises(ValueError, match=r"prompt 0 has token ids outside the vocabulary \[0, 300\): \[300\]"):
        CoGenerator(senior, junior, tok).generate([[300]], RolloutConfig(), seed=0)


def test_junior_schedule_runs_the_junior_only(tok, pair, prompts):
    senior, junior = pair
    out = CoGenerator(senior, junior, tok, eos_token_ids=[7]).generate(
        prompts, RolloutConfig(schedule="junior", max_new_tokens=24, temperature=0.0), seed=0)
    assert out.response_ids == hf_greedy(junior, prompts, 24, tok.pad_token_id, 7)
    assert all(np.all(a == 0) for a in out.author) and out.stats["senior_fraction"] == 0.0


def test_schedule_coins_do_not_shift_the_sampling_stream(tok, pair, prompts):
    """Coins come from their own generator: `word` with p = 1 (always senior) draws exactly the tokens `solo`
    draws with the same seed, and p = 0 exactly those of the `junior` schedule."""
    senior, junior = pair
    gen = CoGenerator(senior, junior, tok)
    rc = dict(max_new_tokens=12, temperature=1.0, top_k=30)
    solo = gen.generate(prompts, RolloutConfig(schedule="solo", **rc), seed=4)
    word1 = gen.generate(prompts, RolloutConfig(schedule="word", p=1.0, **rc), seed=4)
    only_j = gen.generate(prompts, RolloutConfig(schedule="junior", **rc), seed=4)
    word0 = gen.generate(prompts, RolloutConfig(schedule="word", p=0.0, **rc), seed=4)
    assert word1.response_ids == solo.response_ids and word0.response_ids == only_j.response_ids
    assert word1.stats["senior_fraction"] == 1.0 and word0.stats["senior_fraction"] == 0.0
    for a, b in zip(word1.logprob, solo.logprob):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert all(np.isfinite(x).all() for x in word1.partner_logprob)  # both models ran
