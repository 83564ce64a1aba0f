"""Sampling helpers: truncation rules on worked examples and per-row settings."""

from __future__ import annotations

import math

import pytest
import torch

from tandem_rl.cogen.sampling import SamplingParams, raw_logprob, sample, truncate

NEG = float("-inf")


def test_truncate_worked_examples():
    x = torch.tensor([[2.0, 1.0, 0.0]])  # softmax ~ [0.665, 0.245, 0.090]
    assert truncate(x, 2, 1.0).tolist() == [[2.0, 1.0, NEG]]
    assert truncate(x, 0, 0.7).tolist() == [[2.0, 1.0, NEG]]   # 0.665 < 0.7: the second token is still needed
    assert truncate(x, 0, 0.6).tolist() == [[2.0, NEG, NEG]]   # the top token alone reaches 0.6
    assert truncate(x, 0, 1.0) is x
    # Per-row settings: row 0 top_k 1, row 1 untouched (k = 0 and p = 1 mean off).
    two = torch.tensor([[0.0, 3.0, 1.0], [0.0, 3.0, 1.0]])
    out = truncate(two, torch.tensor([1, 0]), torch.tensor([1.0, 1.0]))
    assert out.tolist() == [[NEG, 3.0, NEG], [0.0, 3.0, 1.0]]


def test_sample_logprob_is_the_truncated_distributions():
    logits = torch.tensor([[2.0, 1.0, 0.0]]).repeat(4000, 1)
    gen = torch.Generator().manual_seed(0)
    tok, lp = sample(logits, 1.0, 2, 1.0, gen)
    assert set(tok.tolist()) == {0, 1}
    p0 = math.exp(2) / (math.exp(2) + math.exp(1))
    assert torch.allclose(lp, torch.where(tok == 0, math.log(p0), math.log(1 - p0)), atol=1e-5)
    assert abs((tok == 0).float().mean().item() - p0) < 5 * math.sqrt(p0 * (1 - p0) / 4000)


def test_greedy_rows_and_raw_logprob():
    logits = torch.tensor([[0.0, 5.0, 1.0], [3.0, 0.0, 0.0]])
    tok, lp = sample(logits, torch.tensor([0.0, 1.0]), 0, 1.0, torch.Generator().manual_seed(1))
    assert tok[0] == 1 and lp[0] == 0.0 and lp[1] < 0
    assert torch.allclose(raw_logprob(logits, torch.tensor([1, 0])), torch.log_softmax(logits, -1)[[0, 1], [1, 0]])


def test_bad_settings_are_rejected():
    for kw, msg in ((dict(temperature=-1.0), "temperature"), (dict(top_p=0.0), "top_p"), (dict(top_k=-2), "top_k")):
        with pytest.raises(ValueError, match=msg):
            SamplingParams(**kw)
