"""The statistics behind the metrics, against closed forms and brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from evalkit import pass_at_k
from evalkit._stats import binomial_two_sided, bootstrap_ci, majority, mean_stderr, permutation_test


@pytest.mark.parametrize(("n", "c", "k"), [(4, 1, 1), (4, 1, 2), (5, 2, 3), (10, 0, 4), (10, 10, 1), (6, 3, 6)])
def test_pass_at_k_equals_brute_force_over_subsets(n: int, c: int, k: int) -> None:
    correct = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    brute = sum(any(correct[i] for i in s) for s in subsets) / len(subsets)
    assert pass_at_k(n, c, k) == pytest.approx(brute)


def test_pass_at_k_needs_k_samples() -> None:
    with pytest.raises(ValueError, match="pass@5 needs at least 5 samples"):
        pass_at_k(4, 1, 5)


def test_mean_stderr() -> None:
    mean, stderr = mean_stderr(np.array([0.0, 1.0, 1.0, 0.0]))
    assert mean == 0.5 and stderr == pytest.approx(math.sqrt(1 / 3) / 2)


def test_bootstrap_ci_is_seeded_and_covers_the_mean() -> None:
    values = np.random.default_rng(1).random(300)
    low, high = bootstrap_ci(values, seed=3)
    assert (low, high) == bootstrap_ci(values, seed=3)
    assert low < values.mean() < high
    _, stderr = mean_stderr(values)
    assert high - low == pytest.approx(2 * 1.96 * stderr, rel=0.15)


def test_bootstrap_ci_normal_form_for_large_n() -> None:
    values = np.tile([0.0, 1.0], 20_001)
    low, high = bootstrap_ci(values)
    _, stderr = mean_stderr(values)
    assert (low, high) == pytest.approx((0.5 - 1.959964 * stderr, 0.5 + 1.959964 * stderr))


def test_binomial_two_sided_matches_closed_form() -> None:
    # 2 of 10: P(X <= 2) = (1 + 10 + 45) / 1024, doubled.
    assert binomial_two_sided(2, 10) == pytest.approx(2 * 56 / 1024)
    assert binomial_two_sided(8, 10) == binomial_two_sided(2, 10)
    assert binomial_two_sided(5, 10) == 1.0
    assert binomial_two_sided(0, 0) == 1.0


def test_permutation_test_exact_on_tiny_sample() -> None:
    diffs = np.array([1.0, 1.0, 1.0, 1.0, 1.0])
    # Only all-plus and all-minus sign patterns reach |mean| = 1: p = 2/32 in the limit.
    assert permutation_test(diffs, seed=0) == pytest.approx(2 / 32, abs=0.01)
    assert permutation_test(np.zeros(5)) == 1.0


def test_majority_breaks_ties_by_first_seen() -> None:
    assert majority(["3", "4", "4", "3"]) == 0
    assert majority([None, "4", "5", "5"]) == 2
    assert majority([None, None]) == -1
