"""The pure GRPO loss functions against hand-computed values and independent references."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem_rl.grpo.loss import aggregate, clipped_surrogate, grpo_loss, k3

V = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
M = torch.tensor([[1, 1, 0], [1, 0, 0]])


def test_token_mean_by_hand():
    assert float(aggregate(V, M, "token-mean", n_tokens=3, n_seqs=2, max_len=3)) == pytest.approx((1 + 2 + 4) / 3)


def test_seq_mean_token_mean_by_hand():
    got = aggregate(V, M, "seq-mean-token-mean", n_tokens=3, n_seqs=2, max_len=3)
    assert float(got) == pytest.approx(((1 + 2) / 2 + 4 / 1) / 2)


def test_dr_grpo_by_hand():
    assert float(aggregate(V, M, "dr_grpo", n_tokens=3, n_seqs=2, max_len=10)) == pytest.approx(7 / (2 * 10))


def test_row_without_tokens_counts_in_seq_mean_but_adds_nothing():
    m = torch.tensor([[1, 1, 0], [0, 0, 0]])
    got = aggregate(V, m, "seq-mean-token-mean", n_tokens=2, n_seqs=2, max_len=3)
    assert float(got) == pytest.approx(1.5 / 2)


def test_unknown_aggregation_is_an_error():
    with pytest.raises(ValueError, match="token-mean"):
        aggregate(V, M, "mean", n_tokens=1, n_seqs=1, max_len=1)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 7), st.integers(0, 2**31 - 1),
       st.sampled_from(["token-mean", "seq-mean-token-mean", "dr_grpo"]))
def test_micro_batch_shares_sum_to_the_whole(rows, cols, seed, agg):
    """Splitting a mini-batch into micro-batches never changes the aggregate (global denominators)."""
    g = torch.Generator().manual_seed(seed)
    vals = torch.randn(rows, cols, generator=g, dtype=torch.float64)
    mask = torch.rand(rows, cols, generator=g) < 0.6
    n_tok, n_seq = float(mask.sum()), float(rows)
    whole = aggregate(vals, mask, agg, n_tokens=n_tok, n_seqs=n_seq, max_len=cols)
    cut = int(torch.randint(0, rows + 1, (1,), generator=g))
    parts = sum(float(aggregate(vals[a:b], mask[a:b], agg, n_tokens=n_tok, n_seqs=n_seq, max_len=cols))
                for a, b in ((0, cut), (cut, rows)) if b > a)
    assert parts == pytest.approx(float(whole), abs=1e-12)
    # independent reference, written out differently
    if agg == "token-mean":
        ref = sum(vals[i, j] for i in range(rows) for j in range(cols) if mask[i, j]) / max(n_tok, 1)
    elif agg == "dr_grpo":
        ref = sum(vals[i, j] for i in range(rows) for j in range(cols) if mask[i, j]) / (rows * cols)
    else:
        ref = sum(sum(vals[i, j] for j in range(cols) if mask[i, j]) / max(int(mask[i].sum()), 1)
                  for i in range(rows)) / rows
    assert float(whole) == pytest.approx(float(ref), abs=1e-12)


def test_masked_nan_never_leaks():
    vals = torch.tensor([[1.0, float("nan")], [float("inf"), 2.0]], requires_grad=True)
    mask = torch.tensor([[1, 0], [0, 1]])
    out = aggregate(vals, mask, "token-mean", n_tokens=2, n_seqs=2, max_len=2)
    out.backward()
    assert float(out.detach()) == 1.5
    assert vals.grad.tolist() == [[0.5, 0.0], [0.0, 0.5]]


@pytest.mark.parametrize("ratio, adv, loss, grad_flows", [
    (1.5, 1.0, -1.2, False),   # A > 0, ratio above 1 + eps: clipped, no gradient
    (0.5, 1.0, -0.5, True),    # A > 0, ratio below 1 - eps: min picks the unclipped term
    (0.5, -1.0, 0.8, False),   # A < 0, ratio below 1 - eps: clipped at 0.8
    (1.5, -1.0, 1.5, True),    # A < 0, ratio above 1 + eps: unclipped (pessimistic) term
    (1.1, 2.0, -2.2, True),    # inside the trust region
])
def test_clipping(ratio, adv, loss, grad_flows):
    logp = torch.tensor([[math.log(ratio)]], requires_grad=True)
    per_tok, clipped = clipped_surrogate(logp, torch.zeros(1, 1), torch.tensor([adv]), torch.tensor([[1]]), 0.2, 0.2)
    per_tok.sum().backward()
    assert float(per_tok.detach()) == pytest.approx(loss, rel=1e-6)
    assert bool(clipped) == (not grad_flows)
    assert (float(logp.grad) != 0.0) == grad_flows
    if grad_flows:  # d/dlogp of -rho*A = -rho*A
        assert float(logp.grad) == pytest.approx(-ratio * adv, rel=1e-6)


def test_clip_higher_is_asymmetric():
    logp = torch.log(torch.tensor([[1.25, 0.7]]))
    per_tok, clipped = clipped_surrogate(logp, torch.zeros(1, 2), torch.tensor([1.0]), torch.ones(1, 2), 0.2, 0.28)
    assert per_tok.tolist()[0] == pytest.approx([-1.25, -0.7])  # 1.25 < 1.28: not clipped
    assert clipped.tolist() == [[False, False]]


def test_k3_matches_formula_and_is_nonnegative():
    logp = torch.tensor([[-0.1, -2.0, -0.5]])
    ref = torch.tensor([[-0.3, -1.0, -0.5]])
    got = k3(logp, ref, torch.ones(1, 3))
    d = ref - logp
    assert torch.allclose(got, torch.exp(d) - d - 1)
    assert (got >= 0).all() and float(got[0, 2]) == 0.0


def test_k3_is_unbiased_for_kl():
    """E_{x~p}[k3] = KL(p || q) for a small categorical (exact expectation)."""
    p = torch.tensor([0.5, 0.3, 0.2])
    q = torch.tensor([0.2, 0.5, 0.3])
    est = (p * k3(p.log()[None], q.log()[None], torch.ones(1, 3))[0]).sum()
    assert float(est) == pytest.approx(float((p * (p / q).log()).sum()), rel=1e-6)


def test_junior_positions_carry_exactly_zero_gradient():
    """Perturbing log-probs, old log-probs and advantages at junior positions changes no gradient."""
    torch.manual_seed(0)
    base = torch.randn(3, 6)
    old = base + 0.1 * torch.randn(3, 6)
    mask = torch.rand(3, 6) < 0.5
    adv = torch.randn(3, 6)

    def grads(lp_init, old_, adv_):
        lp = lp_init.clone().requires_grad_(True)
        parts = grpo_loss(lp, old_, adv_, mask, agg="token-mean", n_tokens=float(mask.sum()), n_seqs=3, max_len=6,
                          eps_low=0.2, eps_high=0.2)
        parts.loss.backward()
        return lp.grad, parts.loss.detach()

    g0, l0 = grads(base, old, adv)
    junior = ~mask
    noisy = base.masked_fill(junior, float("nan"))
    g1, l1 = grads(noisy, old.masked_fill(junior, 1e4), adv.masked_fill(junior, -1e6))
    assert torch.equal(g0, g1) and torch.equal(l0, l1)
    assert (g0[junior] == 0).all() and (g0[mask] != 0).any()


def test_kl_terms_off_need_no_reference_and_on_add_to_loss():
    lp = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    kw = dict(agg="token-mean", n_tokens=1, n_seqs=1, max_len=2, eps_low=0.2, eps_high=0.2)
    mask = torch.tensor([[1, 0]])
    plain = grpo_loss(lp, lp.detach(), torch.tensor([1.0]), mask, **kw)
    with pytest.raises(ValueError, match="ref_logp"):
        grpo_loss(lp, lp.detach(), torch.tensor([1.0]), mask, beta=0.1, **kw)
    ref = torch.tensor([[-1.5, 0.0]])
    with_kl = grpo_loss(lp, lp.detach(), torch.tensor([1.0]), mask, ref_logp=ref, beta=0.1, **kw)
    d = -0.5
    assert float((with_kl.loss - plain.loss).detach()) == pytest.approx(0.1 * (math.exp(d) - d - 1), rel=1e-5)
    jmask = torch.tensor([[0, 1]])
    jun = grpo_loss(lp, lp.detach(), torch.tensor([1.0]), mask, junior_mask=jmask, junior_logp=torch.tensor([[0.0, -1.0]]),
                    n_junior_tokens=1, lambda_jun=0.5, **kw)
    d = -2.0 - (-1.0)  # senior - junior at the junior position
    assert float((jun.loss - plain.loss).detach()) == pytest.approx(0.5 * (math.exp(d) - d - 1), rel=1e-6)
    assert float(jun.kl_junior_sum) == pytest.approx(math.exp(d) - d - 1, rel=1e-6)


# --- dual-clip (verl clip_ratio_c) and the junior-token weight (issue 16) ---------------------------------------


@pytest.mark.parametrize("ratio, adv, loss, grad_flows", [
    (5.0, -1.0, 3.0, False),    # A < 0, rho 5: -rho A = 5 is capped at -c A = 3, no gradient
    (4.0, -0.5, 1.5, False),    # A < 0, rho 4: 2.0 capped at 1.5
    (2.0, -1.0, 2.0, True),     # A < 0, rho 2 under the cap: unchanged, gradient -rho A = 2
    (0.5, -1.0, 0.8, False),    # A < 0, rho below 1 - eps: the ordinary clip, cap not reached
    (5.0, 1.0, -1.2, False),    # A > 0: dual-clip never applies
])
def test_dual_clip_by_hand(ratio, adv, loss, grad_flows):
    logp = torch.tensor([[math.log(ratio)]], requires_grad=True)
    per_tok, _ = clipped_surrogate(logp, torch.zeros(1, 1), torch.tensor([adv]), torch.tensor([[1]]), 0.2, 0.2,
                                   dual_clip=3.0)
    per_tok.sum().backward()
    assert float(per_tok.detach()) == pytest.approx(loss, rel=1e-6)
    assert (float(logp.grad) != 0.0) == grad_flows
    if grad_flows:
        assert float(logp.grad) == pytest.approx(-ratio * adv, rel=1e-6)


def _verl_style_reference(ratio: float, adv: float, eps: float, c: float) -> float:
    """The dual-clip rule written as verl's three-branch formula (max of the PPO branches, then min with -cA)."""
    l1, l2 = -adv * ratio, -adv * min(max(ratio, 1 - eps), 1 + eps)
    ppo = max(l1, l2)
    return min(ppo, -adv * c) if adv < 0 else ppo


@settings(max_examples=60, deadline=None)
@given(st.floats(-4.0, 4.0), st.floats(-3.0, 3.0), st.floats(1.01, 10.0))
def test_dual_clip_matches_the_three_branch_formula(log_ratio, adv, c):
    got, _ = clipped_surrogate(torch.tensor([[log_ratio]], dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64),
                               torch.tensor([adv], dtype=torch.float64), torch.tensor([[1]]), 0.2, 0.2, dual_clip=c)
    ref = _verl_style_reference(math.exp(log_ratio), adv, 0.2, c)
    assert float(got) == pytest.approx(ref, rel=1e-9, abs=1e-12)
    assert float(got) <= max(-c * adv, 0.0) + 1e-9 or adv >= 0  # the cap holds for every negative advantage


def test_dual_clip_off_is_the_plain_loss():
    g = torch.Generator().manual_seed(3)
    lp, old = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g)
    adv, mask = torch.randn(4, generator=g), torch.rand(4, 5, generator=g) < 0.7
    a, _ = clipped_surrogate(lp, old, adv, mask, 0.2, 0.2)
    b, _ = clipped_surrogate(lp, old, adv, mask, 0.2, 0.2, dual_clip=0.0)
    assert torch.equal(a, b)


def _two_author_batch():
    g = torch.Generator().manual_seed(7)
    base = torch.randn(3, 6, generator=g, dtype=torch.float64) - 1.0
    old = base + 0.05 * torch.randn(3, 6, generator=g, dtype=torch.float64)
    response = torch.tensor([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    senior = (torch.rand(3, 6, generator=g) < 0.5) & response
    junior = response & ~senior
    adv = torch.tensor([0.7, -1.3, 0.4], dtype=torch.float64)
    return base, old, senior, junior, adv


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-mean", "dr_grpo"])
def test_junior_weight_zero_is_exactly_todays_loss(agg):
    base, old, senior, junior, adv = _two_author_batch()
    kw = dict(agg=agg, n_tokens=float(senior.sum()), n_seqs=3, max_len=6, eps_low=0.2, eps_high=0.2)
    lp0 = base.clone().requires_grad_(True)
    today = grpo_loss(lp0, old, adv, senior, **kw)
    today.loss.backward()
    lp1 = base.clone().requires_grad_(True)
    off = grpo_loss(lp1, old, adv, senior, junior_mask=junior, n_junior_tokens=float(junior.sum()),
                    junior_weight=0.0, **kw)
    off.loss.backward()
    assert torch.equal(today.loss.detach(), off.loss.detach()) and torch.equal(lp0.grad, lp1.grad)
    assert (lp1.grad[junior] == 0).all()


def test_junior_weight_gradient_on_junior_tokens_by_hand():
    """Token-mean, on-policy (old = current): d loss / d logp_t = -A_row x weight_t / (n_senior + w n_junior)."""
    base, _, senior, junior, adv = _two_author_batch()
    w = 0.25
    n_s, n_j = float(senior.sum()), float(junior.sum())
    lp = base.clone().requires_grad_(True)
    parts = grpo_loss(lp, base.clone(), adv, senior, agg="token-mean", n_tokens=n_s, n_seqs=3, max_len=6,
                      eps_low=0.2, eps_high=0.2, junior_mask=junior, n_junior_tokens=n_j, junior_weight=w)
    parts.loss.backward()
    den = n_s + w * n_j
    expect = torch.zeros_like(base)
    for i in range(3):
        for t in range(6):
            if senior[i, t]:
                expect[i, t] = -adv[i] / den
            elif junior[i, t]:
                expect[i, t] = -adv[i] * w / den
    assert torch.allclose(lp.grad, expect, atol=1e-12)
    assert (lp.grad[junior] != 0).all()
    # the loss value at ratio 1: -(sum over weighted tokens of A) / den
    value = -sum(float(adv[i]) * (float(senior[i].sum()) + w * float(junior[i].sum())) for i in range(3)) / den
    assert float(parts.loss.detach()) == pytest.approx(value, rel=1e-12)
    assert int(parts.tokens) == int(n_s) and int(parts.clipped) == 0


def test_junior_weight_needs_the_junior_mask():
    with pytest.raises(ValueError, match="junior_mask"):
        grpo_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([1.0]), torch.tensor([[1, 0]]), agg="token-mean",
                  n_tokens=1, n_seqs=1, max_len=2, eps_low=0.2, eps_high=0.2, junior_weight=0.5)


def test_grpo_config_checks_the_new_options():
    from tandem_rl.grpo.config import GRPOConfig

    GRPOConfig(dual_clip=3.0, junior_weight=0.1).validate()
    with pytest.raises(ValueError, match="dual_clip"):
        GRPOConfig(dual_clip=0.5).validate()
    with pytest.raises(ValueError, match="junior_weight"):
        GRPOConfig(junior_weight=-1.0).validate()
