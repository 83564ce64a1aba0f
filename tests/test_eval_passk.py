"""pass@k against brute-force enumeration of every size-k subset."""

import itertools
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tandem_rl.eval.passk import pass_at_k, pass_at_k_curve, pass_at_k_table


def brute_force(correct, k):
    subsets = list(itertools.combinations(range(len(correct)), k))
    return sum(any(correct[i] for i in s) for s in subsets) / len(subsets)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=10))
def test_curve_matches_subset_enumeration(correct):
    curve = pass_at_k_curve(correct)
    for k in range(1, len(correct) + 1):
        assert curve[k - 1] == pytest.approx(brute_force(correct, k), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_product_form_matches_binomials(nck):
    n, c, k = nck
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k), abs=1e-9)


def test_worked_examples_and_errors():
    assert pass_at_k(4, 1, 1) == 0.25 and pass_at_k(4, 1, 2) == 0.5 and pass_at_k(4, 0, 4) == 0.0
    np.testing.assert_allclose(pass_at_k_curve([0, 1, 0, 0]), [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(pass_at_k_table(np.array([[1, 1], [0, 0]])), [[1, 1], [0, 0]])
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 0)
