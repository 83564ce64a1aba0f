"""Group advantages: hand values, zero-std groups, Dr. GRPO scaling, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem_rl.grpo.advantages import group_advantages


def test_hand_computed_group():
    adv, zero = group_advantages([1, 0, 0, 0], group_size=4)
    # mean 0.25, sample std sqrt(0.75 / 3) = 0.5
    assert adv.tolist() == pytest.approx([0.75 / (0.5 + 1e-6), -0.25 / (0.5 + 1e-6), -0.25 / (0.5 + 1e-6),
                                          -0.25 / (0.5 + 1e-6)])
    assert zero.tolist() == [False]


def test_zero_std_groups_get_zero_and_are_flagged():
    adv, zero = group_advantages([1, 1, 1, 0, 0, 0, 1, 0, 1], group_size=3)
    assert adv[:6].tolist() == [0.0] * 6
    assert zero.tolist() == [True, True, False]
    assert adv[6] > 0 and adv[7] < 0


def test_scaling_off_is_dr_grpo():
    adv, _ = group_advantages([1.0, 0.0, 0.0, 0.5], group_size=4, scale=False)
    assert adv.tolist() == pytest.approx([0.625, -0.375, -0.375, 0.125])


def test_bad_sizes():
    with pytest.raises(ValueError, match="groups of 3"):
        group_advantages([1, 0, 1, 0], group_size=3)


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 8), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_properties_against_torch_reference(g, n_groups, seed):
    import torch

    r = np.random.default_rng(seed).integers(0, 2, size=g * n_groups).astype(float)
    adv, zero = group_advantages(r, g)
    t = torch.tensor(r).view(-1, g)
    ref = (t - t.mean(1, keepdim=True)) / (t.std(1, keepdim=True) + 1e-6)
    assert np.allclose(adv, ref.view(-1).numpy(), atol=1e-9)
    assert np.allclose(adv.reshape(-1, g).sum(1), 0.0, atol=1e-9)
    assert zero.tolist() == [len(set(row)) == 1 for row in r.reshape(-1, g).tolist()]
