"""The policy update against an independent per-row reference, and its failure handling."""

import contextlib
import copy

import numpy as np
import pytest
import torch

from tandem_rl.cogen.rollouts import Rollouts
from tandem_rl.config import load_config
from tandem_rl.train.build import TrainObjects
from tandem_rl.train.update import update_policy
from tiny import tiny_model, tiny_tokenizer

NO_AUTOCAST = contextlib.nullcontext


def _setup(agg="token-mean", budget=10_000, mini_batches=1, lr=1.0, optimizer="sgd"):
    tok = tiny_tokenizer()
    model = tiny_model(tok, seed=2)
    model.train()
    cfg = load_config(None, ["model.senior=x", f"grpo.loss_agg={agg}", "grpo.group_size=3", "train.grad_clip=0",
                             f"train.micro_batch_tokens={budget}", f"train.mini_batches={mini_batches}",
                             "train.prompts_per_step=2", "rollout.temperature=0.8", "rollout.max_new_tokens=9"])
    opt = torch.optim.SGD(model.parameters(), lr=lr) if optimizer == "sgd" else torch.optim.AdamW(model.parameters())
    objs = TrainObjects(senior=model, junior=None, reference=None, tokenizer=tok, optimizer=opt,
                        device=torch.device("cpu"))
    rng = np.random.default_rng(0)
    prompts = [tok.encode("Tom has 12 apples"), tok.encode("Let x be")]
    responses, authors = [], []
    for i in range(6):
        n = int(rng.integers(3, 9))
        responses.append(rng.integers(3, len(tok), size=n).tolist())
        a = (rng.random(n) < 0.5).astype(np.uint8)
        authors.append(a if i != 4 else np.zeros(n, np.uint8))  # row 4: no senior token at all
    ro = Rollouts([prompts[i // 3] for i in range(6)], responses, authors,
                  [np.full(len(r), -1.0, np.float32) for r in responses],
                  [np.full(len(r), np.nan, np.float32) for r in responses], ["length"] * 6)
    adv = np.array([1.0, -0.5, -0.5, 0.0, 0.0, 0.0])  # group 2 has zero std: no signal, but its tokens count
    return cfg, objs, ro, adv


def _reference_grad(model, ro, adv, temperature, agg, max_len):
    """Autograd gradient of the mini-batch loss computed row by row, unpadded (ratio 1 at the first update)."""
    model = copy.deepcopy(model)
    model.zero_grad()
    n_tokens = sum(int(a.sum()) for a in ro.author)
    terms = []
    for i in range(len(ro)):
        ids = torch.tensor([ro.prompt_ids[i] + ro.response_ids[i]])
        p = len(ro.prompt_ids[i])
        logits = model(input_ids=ids).logits[0, p - 1:-1] / temperature
        lp = torch.log_softmax(logits, -1).gather(-1, torch.tensor(ro.response_ids[i])[:, None])[:, 0]
        m = torch.tensor(ro.author[i], dtype=torch.float32)
        per_tok = -adv[i] * torch.exp(lp - lp.detach()) * m
        if agg == "token-mean":
            terms.append(per_tok.sum() / n_tokens)
        elif agg == "seq-mean-token-mean":
            terms.append(per_tok.sum() / max(float(m.sum()), 1.0) / len(ro))
        else:
            terms.append(per_tok.sum() / (len(ro) * max_len))
    sum(terms).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-mean", "dr_grpo"])
@pytest.mark.parametrize("budget", [10_000, 12])
def test_update_matches_row_by_row_reference(agg, budget):
    cfg, objs, ro, adv = _setup(agg=agg, budget=budget)
    before = {n: p.detach().clone() for n, p in objs.senior.named_parameters()}
    ref = _reference_grad(objs.senior, ro, adv, 0.8, agg, 9)
    stats = update_policy(objs, ro, adv, cfg, autocast=NO_AUTOCAST, lr=1.0)
    assert stats.updates == 1 and stats.nan_skips == 0
    assert stats.trained_rows == 3  # rows 0, 1, 2: group 2 has zero advantages and row 4 no senior tokens
    for n, p in objs.senior.named_parameters():
        delta = before[n] - p.detach()  # SGD lr 1: delta = gradient
        assert torch.allclose(delta, ref.get(n, torch.zeros_like(delta)), atol=1e-6, rtol=1e-4), n


def test_zero_signal_step_takes_no_update():
    cfg, objs, ro, adv = _setup(optimizer="adamw")
    before = [p.detach().clone() for p in objs.senior.parameters()]
    stats = update_policy(objs, ro, np.zeros(6), cfg, autocast=NO_AUTOCAST, lr=1e-3)
    assert stats.updates == 0 and stats.empty_updates == 1 and stats.tokens == 0
    assert all(torch.equal(a, b) for a, b in zip(before, objs.senior.parameters()))


def test_non_finite_loss_skips_the_update():
    cfg, objs, ro, adv = _setup(mini_batches=2, optimizer="adamw")
    before = [p.detach().clone() for p in objs.senior.parameters()]
    bad = adv.copy()
    bad[0] = np.nan  # first mini-batch: nan loss -> skipped; second mini-batch has zero advantages
    stats = update_policy(objs, ro, bad, cfg, autocast=NO_AUTOCAST, lr=1e-3)
    assert stats.nan_skips == 1 and stats.updates == 0
    assert all(torch.equal(a, b) for a, b in zip(before, objs.senior.parameters()))
    assert all(p.grad is None for p in objs.senior.parameters())


def test_second_mini_batch_uses_pre_update_old_logprobs():
    """With two mini-batches the second is off-policy: its ratio departs from 1, so clipping can trigger."""
    cfg, objs, ro, adv = _setup(mini_batches=2, lr=50.0)
    adv2 = np.array([1.0, -0.5, -0.5, 1.0, -0.5, -0.5])
    ro.author[4][:] = 1
    stats = update_policy(objs, ro, adv2, cfg, autocast=NO_AUTOCAST, lr=50.0)
    assert stats.updates == 2
    assert stats.clip_frac > 0  # first mini-batch is exactly on-policy (ratio 1), so all clipping is in the second


def test_kl_to_an_identical_reference_is_zero_and_adds_no_gradient():
    cfg, objs, ro, adv = _setup()
    ref_grad = _reference_grad(objs.senior, ro, adv, 0.8, "token-mean", 9)
    cfg.grpo.beta = 0.5
    objs.reference = copy.deepcopy(objs.senior).eval().requires_grad_(False)
    before = {n: p.detach().clone() for n, p in objs.senior.named_parameters()}
    stats = update_policy(objs, ro, adv, cfg, autocast=NO_AUTOCAST, lr=1.0)
    assert stats.kl_ref == 0.0 and stats.trained_rows == 5  # with beta > 0 zero-advantage rows are trained too
    for n, p in objs.senior.named_parameters():  # d k3 / d logp = 0 where logp == ref
        assert torch.allclose(before[n] - p.detach(), ref_grad.get(n, torch.zeros_like(p)), atol=1e-6, rtol=1e-4), n
