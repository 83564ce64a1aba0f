"""The update with ``grpo.junior_weight`` and ``grpo.dual_clip`` (issue 16): junior tokens in the loss with a weight,
against an independent row-by-row reference; weight 0 is the senior-only reference; the options reach the loss."""

import copy

import numpy as np
import pytest
import torch

import tandem_rl.train.update as update
from test_train_update import NO_AUTOCAST, _setup
from tandem_rl.train.update import trainable_rows, update_policy

ADV = np.array([1.0, -0.5, -0.5, 0.4, 0.8, -1.2])  # row 4 holds no senior token (see _setup)


def _weighted_reference_grad(model, ro, adv, temperature, w):
    """Autograd gradient of token-mean with per-token weights 1 (senior) / w (junior), ratio 1, unpadded rows."""
    model = copy.deepcopy(model)
    model.zero_grad()
    n_sen = sum(int(a.sum()) for a in ro.author)
    n_jun = sum(len(a) - int(a.sum()) for a in ro.author)
    total = 0.0
    for i in range(len(ro)):
        ids = torch.tensor([ro.prompt_ids[i] + ro.response_ids[i]])
        p = len(ro.prompt_ids[i])
        logits = model(input_ids=ids).logits[0, p - 1:-1] / temperature
        lp = torch.log_softmax(logits, -1).gather(-1, torch.tensor(ro.response_ids[i])[:, None])[:, 0]
        a = torch.tensor(ro.author[i], dtype=torch.float32)
        weight = a + w * (1 - a)
        total = total + (-adv[i] * torch.exp(lp - lp.detach()) * weight).sum() / (n_sen + w * n_jun)
    total.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_junior_weight_update_matches_the_weighted_reference():
    cfg, objs, ro, _ = _setup(budget=12)  # several micro-batches: the weighted denominator is mini-batch wide
    cfg.grpo.junior_weight = 0.3
    before = {n: p.detach().clone() for n, p in objs.senior.named_parameters()}
    ref = _weighted_reference_grad(objs.senior, ro, ADV, 0.8, 0.3)
    stats = update_policy(objs, ro, ADV, cfg, autocast=NO_AUTOCAST, lr=1.0)
    assert stats.trained_rows == 6  # row 4 (junior tokens only) now carries gradient
    for n, p in objs.senior.named_parameters():
        assert torch.allclose(before[n] - p.detach(), ref.get(n, torch.zeros_like(p)), atol=1e-6, rtol=1e-4), n


def test_junior_weight_zero_is_the_senior_only_update():
    """At the default weight 0 the update is the senior-tokens-only reference (junior tokens add nothing)."""
    cfg, objs, ro, _ = _setup(budget=12)
    assert cfg.grpo.junior_weight == 0.0  # the default
    before = {n: p.detach().clone() for n, p in objs.senior.named_parameters()}
    ref = _weighted_reference_grad(objs.senior, ro, ADV, 0.8, 0.0)
    update_policy(objs, ro, ADV, cfg, autocast=NO_AUTOCAST, lr=1.0)
    for n, p in objs.senior.named_parameters():
        assert torch.allclose(before[n] - p.detach(), ref.get(n, torch.zeros_like(p)), atol=1e-6, rtol=1e-4), n
    assert 4 not in trainable_rows(ro, ADV, cfg.grpo)
    cfg.grpo.junior_weight = 0.5
    assert 4 in trainable_rows(ro, ADV, cfg.grpo) and 4 not in trainable_rows(ro, np.zeros(6), cfg.grpo)


def test_dual_clip_and_junior_weight_reach_the_loss(monkeypatch):
    cfg, objs, ro, _ = _setup()
    cfg.grpo.dual_clip, cfg.grpo.junior_weight = 3.0, 0.1
    seen = []
    real = update.grpo_loss

    def spy(*args, **kwargs):
        seen.append((kwargs["dual_clip"], kwargs["junior_weight"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(update, "grpo_loss", spy)
    update_policy(objs, ro, ADV, cfg, autocast=NO_AUTOCAST, lr=1.0)
    assert seen and set(seen) == {(3.0, 0.1)}


def test_dual_clip_changes_an_off_policy_update_only_where_it_caps():
    """Two mini-batches: row 3 (second mini-batch, A < 0) repeats row 0 (first mini-batch, A > 0), so the first
    update raises its ratio above 1; dual-clip at c just above 1 caps its loss (no gradient there), which changes the
    second update; a c too large to bind changes nothing."""
    def run(c):
        cfg, objs, ro, _ = _setup(mini_batches=2, lr=0.01)
        cfg.grpo.dual_clip = c
        ro.prompt_ids[3], ro.response_ids[3] = list(ro.prompt_ids[0]), list(ro.response_ids[0])
        ro.author[3] = np.ones(len(ro.response_ids[0]), np.uint8)
        ro.author[0] = np.ones(len(ro.response_ids[0]), np.uint8)
        ro.logprob[3], ro.partner_logprob[3] = ro.logprob[0].copy(), ro.partner_logprob[0].copy()
        adv = np.array([1.0, -0.5, -0.5, -0.5, 1.0, -0.5])
        stats = update_policy(objs, ro, adv, cfg, autocast=NO_AUTOCAST, lr=0.01)
        assert stats.updates == 2 and stats.nan_skips == 0
        return [p.detach().clone() for p in objs.senior.parameters()]

    plain, loose, tight = run(0.0), run(1e9), run(1.5)  # row 3's ratios after the first update: ~1.4-2.9
    assert all(torch.equal(a, b) for a, b in zip(plain, loose))
    assert any(not torch.equal(a, b) for a, b in zip(plain, tight))
