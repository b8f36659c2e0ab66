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
  where the grader sets no ``passed``).
- ``maj@k``: share of items whose majority answer among their first k samples is correct
  (answer = ``graders.answer_of``: ``details["answer"]``, ``["extracted_value"]``, ... or a
  string_check's ``["input"]``; ties go to the answer seen first).

  When they appear: ``pass@k`` only when *every* item with a scored sample has two or more
  scored samples (one prediction per item gives neither), for each requested k up to the
  smallest such n, and for k = that n; ``maj@k`` for the same ks, and only when every one of
  those items has at least one sample with a recorded answer.
- ``error_rate``: share of samples whose score has an error that is not an abstention;
  ``error_rate/<kind>`` per error kind. ``not_scored`` / ``not_scored_rate``: abstained samples.

How: one pass over the items collects ``ScoreColumns`` (per-item values and pass shares,
per-sample ranks, counts); each metric is then a small function of the columns. Add your own
with ``register_metric``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
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


@dataclass
class ScoreColumns:
    """What one pass over an evaluation's items collects; every metric is a function of it.

    Item columns hold one entry per item with at least one scored sample (not abstained);
    sample columns one entry per scored sample.

    Attributes:
        items: The per-item scores the columns were collected from.
        ks: The requested cut-offs for top@k, pass@k and maj@k (sorted, unique).
        seed: The bootstrap seed.
        values: Per item: the mean value of its scored samples.
        passed: Per item: the share of its scored samples with ``passed`` true.
        any_passed: Some scored sample has ``passed`` set (the grader has a pass threshold).
        n: Per item: its number of scored samples.
        ranks: Per sample, item by item: the recorded rank (NaN when the reference is absent
            from the output or the output could not be graded).
        any_rank: Some scored sample records a rank (the grader ranks).
        several: The scored Scores of each item with two or more, in sample order.
        single_items: Items with exactly one scored sample.
        errors: Error counts by kind (abstentions excluded).
        n_items: All items; ``n_samples``: all samples; ``not_scored``: abstained samples.
    """

    items: Sequence[ItemScores]
    ks: list[int]
    seed: int
    values: np.ndarray
    passed: np.ndarray
    any_passed: bool
    n: np.ndarray
    ranks: np.ndarray
    any_rank: bool
    several: list[list[Score]] = field(default_factory=list)
    single_items: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    n_items: int = 0
    n_samples: int = 0
    not_scored: int = 0


def collect(items: Sequence[ItemScores], *, k: Sequence[int] = (1, 5, 20), seed: int = 0) -> ScoreColumns:
    """The one pass over ``items``: every column the metrics read."""
    values: list[float] = []
    passed: list[float] = []
    counts: list[int] = []
    ranks: list[float] = []
    several: list[list[Score]] = []
    errors: Counter[str] = Counter()
    any_passed = any_rank = False
    n_samples = not_scored = 0
    nan = math.nan
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
        else:
            values.append(sum(s.value for s in scored) / n)
            any_passed = any_passed or any(s.passed is not None for s in scored)
            passed.append(sum(1.0 for s in scored if s.passed) / n)
            several.append(scored)
        counts.append(n)
        for score in scored:
            rank = rank_of(score, _NO_RANK)
            if rank is not _NO_RANK:
                any_rank = True
            ranks.append(rank if isinstance(rank, int) else nan)
    return ScoreColumns(
        items=items,
        ks=sorted(set(k)),
        seed=seed,
        values=np.asarray(values, dtype=float),
        passed=np.asarray(passed, dtype=float),
        any_passed=any_passed,
        n=np.asarray(counts, dtype=np.int64),
        ranks=np.asarray(ranks, dtype=float),
        any_rank=any_rank,
        several=several,
        single_items=sum(1 for n in counts if n == 1),
        errors=errors,
        n_items=len(items),
        n_samples=n_samples,
        not_scored=not_scored,
    )


Metric = Callable[[ScoreColumns], dict[str, float]]
"""A metric: a function of the columns giving named numbers (an empty dict when it does not apply)."""


def summary(c: ScoreColumns) -> dict[str, float]:
    """``mean``, ``stderr``, ``ci_low``, ``ci_high``, ``n``, ``n_items``, ``n_samples``."""
    mean, stderr = mean_stderr(c.values)
    low, high = bootstrap_ci(c.values, seed=c.seed)
    return {
        "mean": mean,
        "stderr": stderr,
        "ci_low": low,
        "ci_high": high,
        "n": len(c.values),
        "n_items": c.n_items,
        "n_samples": c.n_samples,
    }


def pass_rate(c: ScoreColumns) -> dict[str, float]:
    """``pass_rate``, when the grader sets ``passed``."""
    if not c.any_passed:
        return {}
    return {"pass_rate": float(np.mean(c.passed)) if len(c.passed) else math.nan}


def top_k(c: ScoreColumns) -> dict[str, float]:
    """``top@k`` for each k and ``top@max``, when the grader records ranks."""
    if not c.any_rank:
        return {}
    out: dict[str, float] = {}
    item_of_sample = np.repeat(np.arange(len(c.n)), c.n)  # ranks are stored item by item
    for name, hit in [*((f"top@{j}", c.ranks <= j) for j in c.ks), ("top@max", ~np.isnan(c.ranks))]:
        # The share of each item's samples that hit, then the mean over items.
        shares = np.bincount(item_of_sample, weights=hit, minlength=len(c.n)) / c.n
        out[name] = float(np.mean(shares)) if len(shares) else math.nan
    return out


def pass_and_majority_at_k(c: ScoreColumns) -> dict[str, float]:
    """``pass@k`` and ``maj@k``, when every item has several scored samples (see the module docstring)."""
    if not c.several or c.single_items:
        return {}
    correct = [[is_correct(s) for s in scored] for scored in c.several]
    smallest = min(len(ok) for ok in correct)
    cut = sorted({j for j in c.ks if j <= smallest} | {smallest})
    out: dict[str, float] = {}
    for j in cut:
        out[f"pass@{j}"] = float(np.mean([pass_at_k(len(ok), sum(ok), j) for ok in correct]))
    answers = [[answer_of(s) for s in scored] for scored in c.several]
    if all(any(a is not None for a in item) for item in answers):
        for j in cut:
            wins = 0
            for item, ok in zip(answers, correct, strict=True):
                pick = majority(item[:j])
                wins += pick >= 0 and ok[pick]
            out[f"maj@{j}"] = wins / len(answers)
    return out


def error_rates(c: ScoreColumns) -> dict[str, float]:
    """``error_rate``, ``error_rate/<kind>``, ``not_scored``, ``not_scored_rate``."""
    total = c.n_samples
    out: dict[str, float] = {"error_rate": sum(c.errors.values()) / total if total else 0.0}
    for kind in sorted(c.errors):
        out[f"error_rate/{kind}"] = c.errors[kind] / total
    out["not_scored"] = c.not_scored
    out["not_scored_rate"] = c.not_scored / total if total else 0.0
    return out


BUILTIN_METRICS: tuple[Metric, ...] = (summary, pass_rate, top_k, pass_and_majority_at_k, error_rates)
_user_metrics: list[Metric] = []


def register_metric(metric: Metric) -> Metric:
    """Adds a metric to every evaluation from now on (``evaluate``, ``compute_metrics``, breakdowns).

    A metric is a function of ``ScoreColumns`` returning named numbers; its names must not
    clash with another metric's. Usable as a decorator.

    Example:
        >>> @register_metric                                                    # doctest: +SKIP
        ... def perfect_rate(c: ScoreColumns) -> dict[str, float]:
        ...     return {"perfect_rate": float((c.values >= 1.0).mean()) if len(c.values) else 0.0}
    """
    if metric not in _user_metrics:
        _user_metrics.append(metric)
    return metric


def compute_metrics(items: Sequence[ItemScores], *, k: Sequence[int] = (1, 5, 20), seed: int = 0) -> dict[str, float]:
    """Computes every metric (see the module docstring) over ``items``.

    Args:
        items: Per-item scores.
        k: The cut-offs for top@k, pass@k and maj@k.
        seed: Seed of the bootstrap.

    Returns:
        A flat dict of numbers with stable keys: the built-in metrics in the order of the module
        docstring, then registered ones.

    Raises:
        ValueError: two metrics give the same name.
    """
    columns = collect(items, k=k, seed=seed)
    metrics: dict[str, float] = {}
    for metric in (*BUILTIN_METRICS, *_user_metrics):
        values = metric(columns)
        clash = metrics.keys() & values.keys()
        if clash:
            raise ValueError(f"metric {getattr(metric, '__name__', metric)!r} gives {sorted(clash)}, already given")
        metrics.update(values)
    return metrics


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
