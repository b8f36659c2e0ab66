"""The metrics of an evaluation, computed from per-item scores.

Definitions (n = samples of an item that were scored, i.e. did not abstain):

- ``mean``: mean over items of the item's mean reward over its scored samples. A sample the
  grader could not grade (``error`` set, e.g. output not JSON) counts with its value (0): it is a
  wrong answer. A sample whose *reference* is unusable (an abstention) is left out entirely.
- ``stderr``: standard error of ``mean`` over items (std with ddof=1 / sqrt(items)).
- ``ci_low`` / ``ci_high``: 95% percentile bootstrap CI of ``mean``, resampling items with a
  fixed seed (normal interval above 20,000 items, where the two agree).
- ``n``: items with at least one scored sample; ``n_items``: all items; ``n_samples``: all samples.
- ``pass_rate``: share of scored samples with ``passed`` true, averaged per item; present when
  the grader sets ``passed``.
- ``top@k``: share of scored samples whose rank (``graders.rank_of``: 1-based position of the
  reference in the output list; inside a ``multi``, the first child that records one) is <= k,
  averaged per item. An output that could not be graded counts as not found. ``top@max``: the
  reference is anywhere in the list. Present when the grader records ranks.
- ``pass@k``: unbiased estimator 1 - C(n-c, k)/C(n, k) of "at least one of k samples is correct",
  averaged over items (c = correct samples; correct = ``passed``, or full credit ``value >= 1``
  where the grader sets no ``passed``). Reported when items have several samples, for each
  requested k up to the smallest n, and for k = that n.
- ``maj@k``: share of items whose majority answer among their first k samples is correct
  (answer = ``graders.answer_of``: ``details["answer"]``, ``["extracted_value"]``, ... or a
  string_check's ``["input"]``; ties go to the answer seen first).
  Reported with ``pass@k`` when the grader records answers.
- ``error_rate``: share of samples whose score has an error that is not an abstention;
  ``error_rate/<kind>`` per error kind. ``not_scored`` / ``not_scored_rate``: abstained samples.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from evalkit._result import ItemScores
from evalkit._stats import bootstrap_ci, majority, mean_stderr, pass_at_k
from graders import Score, answer_of, rank_of

_NO_RANK: Any = object()
# The group of items that lack a breakdown field.
MISSING = "(missing)"


def is_correct(score: Score) -> bool:
    """``passed`` where the grader sets it, else full credit (value >= 1)."""
    return bool(score.passed) if score.passed is not None else score.value >= 1.0


def compute_metrics(items: Sequence[ItemScores], *, k: Sequence[int] = (1, 5, 20), seed: int = 0) -> dict[str, float]:
    """Computes every metric (see the module docstring) over ``items``.

    Args:
        items: Per-item scores.
        k: The cut-offs for top@k, pass@k and maj@k.
        seed: Seed of the bootstrap.

    Returns:
        A flat dict of numbers with stable keys.
    """
    ks = sorted(set(k))
    values: list[float] = []
    passed: list[float] = []
    any_passed = False
    hits: dict[int, list[float]] = {j: [] for j in ks}
    found: list[float] = []
    any_rank = False
    multi: list[tuple[list[str | None], list[bool]]] = []  # (answers, correct) of items with n > 1
    singles = 0
    errors: Counter[str] = Counter()
    n_samples = 0
    not_scored = 0
    for item in items:
        scored = []
        for score in item.scores:
            n_samples += 1
            if score.abstained:
                not_scored += 1
                continue
            if score.error is not None:
                errors[score.error.kind] += 1
            scored.append(score)
        if not scored:
            continue
        n = len(scored)
        if n == 1:  # the common case, kept cheap for million-item runs
            score = scored[0]
            values.append(score.value)
            if score.passed is not None:
                any_passed = True
            passed.append(1.0 if score.passed else 0.0)
            rank: Any = rank_of(score, _NO_RANK)
            if rank is not _NO_RANK:
                any_rank = True
            ok = isinstance(rank, int)
            for j in ks:
                hits[j].append(1.0 if ok and rank <= j else 0.0)
            found.append(1.0 if ok else 0.0)
        else:
            values.append(sum(s.value for s in scored) / n)
            any_passed = any_passed or any(s.passed is not None for s in scored)
            passed.append(sum(1.0 for s in scored if s.passed) / n)
            ranks = [rank_of(s, _NO_RANK) for s in scored]
            any_rank = any_rank or any(r is not _NO_RANK for r in ranks)
            ints = [r for r in ranks if isinstance(r, int)]
            for j in ks:
                hits[j].append(sum(1.0 for r in ints if r <= j) / n)
            found.append(len(ints) / n)
            multi.append(([answer_of(s) for s in scored], [is_correct(s) for s in scored]))
        singles += n == 1
    metrics = _core(np.asarray(values, dtype=float), seed)
    metrics["n_items"] = len(items)
    metrics["n_samples"] = n_samples
    if any_passed:
        metrics["pass_rate"] = float(np.mean(passed)) if passed else math.nan
    if any_rank:
        for j in ks:
            metrics[f"top@{j}"] = float(np.mean(hits[j])) if hits[j] else math.nan
        metrics["top@max"] = float(np.mean(found)) if found else math.nan
    if multi and not singles:
        metrics.update(_sampled(multi, ks))
    metrics["error_rate"] = sum(errors.values()) / n_samples if n_samples else 0.0
    for kind in sorted(errors):
        metrics[f"error_rate/{kind}"] = errors[kind] / n_samples
    metrics["not_scored"] = not_scored
    metrics["not_scored_rate"] = not_scored / n_samples if n_samples else 0.0
    return metrics


def _core(values: np.ndarray, seed: int) -> dict[str, float]:
    mean, stderr = mean_stderr(values)
    low, high = bootstrap_ci(values, seed=seed)
    return {"mean": mean, "stderr": stderr, "ci_low": low, "ci_high": high, "n": len(values)}


def _sampled(multi: list[tuple[list[str | None], list[bool]]], ks: list[int]) -> dict[str, float]:
    """pass@k and maj@k over items that all have several samples."""
    smallest = min(len(ok) for _, ok in multi)
    cut = sorted({j for j in ks if j <= smallest} | {smallest})
    out: dict[str, float] = {}
    for j in cut:
        out[f"pass@{j}"] = float(np.mean([pass_at_k(len(ok), sum(ok), j) for _, ok in multi]))
    if all(any(a is not None for a in answers) for answers, _ in multi):
        for j in cut:
            wins = 0
            for answers, ok in multi:
                pick = majority(answers[:j])
                wins += pick >= 0 and ok[pick]
            out[f"maj@{j}"] = wins / len(multi)
    return out


def group_metrics(
    items: Sequence[ItemScores], fields: Sequence[str], *, k: Sequence[int], seed: int
) -> dict[str, dict[str, dict[str, float]]]:
    """``{field: {value: metrics}}``: the metrics of the items sharing each value of each field."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in fields:
        buckets: dict[str, list[ItemScores]] = {}
        for item in items:
            buckets.setdefault(item.group.get(name, MISSING), []).append(item)
        out[name] = {value: compute_metrics(buckets[value], k=k, seed=seed) for value in sorted(buckets)}
    return out


def rank_curve(items: Iterable[ItemScores], max_k: int) -> list[float]:
    """top@j for j = 1..max_k (the top@k curve of the HTML report); empty without ranks."""
    counts = np.zeros(max_k + 2)
    n_items = 0
    any_rank = False
    for item in items:
        scored = [s for s in item.scores if not s.abstained]
        if not scored:
            continue
        n_items += 1
        for score in scored:
            rank = rank_of(score, _NO_RANK)
            any_rank = any_rank or rank is not _NO_RANK
            if isinstance(rank, int):
                counts[min(rank, max_k + 1)] += 1 / len(scored)
    if not any_rank or not n_items:
        return []
    return [float(v) for v in np.cumsum(counts)[1 : max_k + 1] / n_items]
