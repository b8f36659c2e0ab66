"""Statistics behind the metrics: standard error, bootstrap CIs, pass@k, paired tests.

Everything random takes a seed, so a report is reproducible bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Bootstrap resamples: 1000 gives percentile CI endpoints stable to about 0.005 on rewards in [0, 1].
BOOTSTRAP_RESAMPLES = 1_000
# Random sign flips for the permutation test: p-values near 0.05 are resolved to about +-0.005.
PERMUTATIONS = 10_000
# Above this many items the sampling distribution of a mean is normal to well within the
# bootstrap's own noise (CLT), and resampling 1000 x n values would cost seconds: use the normal form.
RESAMPLE_MAX_N = 20_000
# Numbers drawn per resampling chunk, to keep the memory of a bootstrap bounded (~40 MB of int64).
CHUNK_VALUES = 5_000_000
CONFIDENCE = 0.95


def mean_stderr(values: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of the mean (sample std with ddof=1 over sqrt(n); 0 when n < 2)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = float(values.mean())
    if n < 2:
        return mean, 0.0
    return mean, float(values.std(ddof=1) / math.sqrt(n))


def bootstrap_ci(
    values: np.ndarray, *, seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values`` (items resampled with replacement).

    Independent of the order of ``values``, so it is the same for a run and its merged shards.

    Above RESAMPLE_MAX_N values, returns the normal interval mean +- z * stderr instead.
    """
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    if n > RESAMPLE_MAX_N:
        mean, stderr = mean_stderr(values)
        z = _z(confidence)
        return mean - z * stderr, mean + z * stderr
    # Sorted first: the interval then depends only on the values, not on the order items came in
    # (a run merged from shards reports what the unsharded run does).
    values = np.sort(values)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    rows = max(1, CHUNK_VALUES // n)
    for start in range(0, resamples, rows):
        stop = min(resamples, start + rows)
        picks = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[picks].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


def _z(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k).

    The chance that at least one of k samples drawn without replacement from the n is correct
    (Chen et al. 2021, "Evaluating Large Language Models Trained on Code").
    """
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per item, got {n}")
    if n - c < k:
        return 1.0
    # Product form of the ratio of binomials: exact and stable for large n.
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def binomial_two_sided(successes: int, trials: int) -> float:
    """Exact two-sided p-value of ``successes`` in ``trials`` fair coin flips (sign test / McNemar)."""
    if trials == 0:
        return 1.0
    low = min(successes, trials - successes)
    i = np.arange(low)
    # log C(n, j) for j = 0..low, built by the ratio C(n, j+1) / C(n, j) = (n - j) / (j + 1).
    log_comb = np.concatenate([[0.0], np.cumsum(np.log(trials - i) - np.log(i + 1))])
    tail = float(np.exp(log_comb - trials * math.log(2)).sum())
    return min(1.0, 2 * tail)


def mcnemar_exact(b_only: int, a_only: int) -> float:
    """Exact McNemar p-value for paired pass/fail: pairs where only one of the runs passed."""
    return binomial_two_sided(b_only, b_only + a_only)


def permutation_test(diffs: np.ndarray, *, seed: int = 0, permutations: int = PERMUTATIONS) -> float:
    """Two-sided paired permutation test of mean(diffs) == 0 by random sign flips.

    p = (1 + #{|mean of flipped diffs| >= |observed mean|}) / (permutations + 1). Above
    RESAMPLE_MAX_N pairs it uses the normal approximation of the same statistic.
    """
    n = len(diffs)
    if n == 0 or not np.any(diffs):
        return 1.0
    observed = abs(float(diffs.mean()))
    if n > RESAMPLE_MAX_N:
        from statistics import NormalDist

        se = math.sqrt(float((diffs**2).sum())) / n  # the sign-flip distribution's std of the mean
        return min(1.0, 2 * (1 - NormalDist().cdf(observed / se)))
    diffs = np.sort(diffs)  # as in bootstrap_ci: the p-value depends only on the values
    rng = np.random.default_rng(seed)
    extreme = 0
    rows = max(1, CHUNK_VALUES // n)
    tolerance = 1e-12 * max(1.0, observed)  # ties with the observed statistic count as extreme
    for start in range(0, permutations, rows):
        stop = min(permutations, start + rows)
        signs = rng.integers(0, 2, size=(stop - start, n)) * 2 - 1
        flipped = np.abs((signs * diffs).mean(axis=1))
        extreme += int((flipped >= observed - tolerance).sum())
    return (1 + extreme) / (permutations + 1)


def majority(answers: Sequence[str | None]) -> int:
    """Index of the first sample holding the most common non-None answer (-1 when none has one)."""
    counts: dict[str, int] = {}
    for answer in answers:
        if answer is not None:
            counts[answer] = counts.get(answer, 0) + 1
    if not counts:
        return -1
    best = max(counts.values())
    for index, answer in enumerate(answers):
        if answer is not None and counts[answer] == best:
            return index
    return -1
