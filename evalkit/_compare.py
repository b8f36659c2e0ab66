"""Paired comparison of two evaluation runs on the same items."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evalkit._errors import EvalError
from evalkit._result import EvalResult, jsonable
from evalkit._stats import bootstrap_ci, mcnemar_exact, mean_stderr, permutation_test

# Items listed as "changed most": enough to eyeball, short enough for a terminal.
TOP_CHANGED = 10
# Metrics set side by side in the comparison table (those both runs have).
SIDE_BY_SIDE_PREFIXES = ("mean", "pass_rate", "top@", "pass@", "maj@", "error_rate", "n")


@dataclass
class Comparison:
    """The paired comparison of run ``b`` against run ``a`` (differences are b - a).

    Attributes:
        a: Label of the first run (its directory name, or "a").
        b: Label of the second run.
        n: Items scored in both runs (the pairs); ``only_a`` / ``only_b``: items in one run only.
        mean_a, mean_b: Mean reward of each run over the paired items.
        mean_diff: mean_b - mean_a; ``ci_low`` / ``ci_high``: its 95% paired bootstrap CI.
        test: ``"mcnemar"`` (exact) when every paired value is 0 or 1 (pass/fail), else
            ``"permutation"`` (paired sign-flip test of the mean difference).
        p_value: The two-sided p-value of that test; ``sign_test_p``: exact sign test on wins/losses.
        wins, losses, ties: Items where b scored higher, lower, the same.
        changed: The items whose value changed most: ``{"id", "a", "b", "diff"}``, largest |diff| first.
        metrics: ``{metric: {"a", "b", "diff"}}`` for the metrics both runs report (all items).
        diffs: Per-item differences (b - a), in paired-id order (for plots).
    """

    a: str
    b: str
    n: int
    only_a: int
    only_b: int
    mean_a: float
    mean_b: float
    mean_diff: float
    stderr: float
    ci_low: float
    ci_high: float
    test: str
    p_value: float
    sign_test_p: float
    wins: int
    losses: int
    ties: int
    changed: list[dict[str, Any]]
    metrics: dict[str, dict[str, float]]
    diffs: list[float] = field(repr=False, default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``diffs`` left out)."""
        out: dict[str, Any] = jsonable({k: v for k, v in self.__dict__.items() if k != "diffs"})
        return out

    def table(self) -> str:
        """The summary, metrics side by side and the items that changed most, as plain text."""
        from evalkit._report import comparison_terminal

        return comparison_terminal(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        """``to_dict`` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


def compare(
    a: EvalResult | str | os.PathLike[str],
    b: EvalResult | str | os.PathLike[str],
    *,
    seed: int = 0,
    names: tuple[str, str] | None = None,
) -> Comparison:
    """Compares run ``b`` with run ``a`` item by item.

    Args:
        a: The baseline: an EvalResult or a run directory.
        b: The candidate: an EvalResult or a run directory.
        seed: Seed of the bootstrap CI and of the permutation test.
        names: Labels of the two runs in reports (default: the run directories' names, or "a"/"b").

    Returns:
        The Comparison (differences are b - a).

    Raises:
        EvalError: The runs share no scored item.
        RunDirError: A run directory cannot be read.

    Example:
        >>> c = compare("runs/base", "runs/finetuned")     # doctest: +SKIP
        >>> c.mean_diff, c.ci_low, c.ci_high, c.p_value    # doctest: +SKIP
    """
    label_a, result_a = _load(a, "a")
    label_b, result_b = _load(b, "b")
    if names is not None:
        label_a, label_b = names
    values_a = {item.id: item.value for item in result_a.items}
    values_b = {item.id: item.value for item in result_b.items}
    ids = [i for i, v in values_a.items() if v is not None and values_b.get(i) is not None]
    if not ids:
        raise EvalError(f"runs {label_a!r} and {label_b!r} share no scored item id; compare runs on the same items")
    va = np.array([values_a[i] for i in ids], dtype=float)
    vb = np.array([values_b[i] for i in ids], dtype=float)
    diffs = vb - va
    mean_diff, stderr = mean_stderr(diffs)
    low, high = bootstrap_ci(diffs, seed=seed)
    wins = int((diffs > 0).sum())
    losses = int((diffs < 0).sum())
    binary = bool(np.isin(va, (0.0, 1.0)).all() and np.isin(vb, (0.0, 1.0)).all())
    p_value = mcnemar_exact(wins, losses) if binary else permutation_test(diffs, seed=seed)
    order = sorted(range(len(ids)), key=lambda j: (-abs(diffs[j]), id_order(ids[j])))
    changed = [
        {"id": ids[j], "a": float(va[j]), "b": float(vb[j]), "diff": float(diffs[j])}
        for j in order[:TOP_CHANGED]
        if diffs[j] != 0
    ]
    return Comparison(
        a=label_a,
        b=label_b,
        n=len(ids),
        only_a=sum(1 for i in values_a if i not in values_b),
        only_b=sum(1 for i in values_b if i not in values_a),
        mean_a=float(va.mean()),
        mean_b=float(vb.mean()),
        mean_diff=mean_diff,
        stderr=stderr,
        ci_low=low,
        ci_high=high,
        test="mcnemar" if binary else "permutation",
        p_value=p_value,
        sign_test_p=mcnemar_exact(wins, losses),
        wins=wins,
        losses=losses,
        ties=len(ids) - wins - losses,
        changed=changed,
        metrics=_side_by_side(result_a.metrics, result_b.metrics),
        diffs=[float(d) for d in diffs],
    )


def _load(run: EvalResult | str | os.PathLike[str], default: str) -> tuple[str, EvalResult]:
    if isinstance(run, EvalResult):
        return default, run
    from evalkit._evaluate import load_run

    return Path(run).name or default, load_run(run)


def id_order(item_id: object) -> tuple[object, ...]:
    """A sort key for item ids in natural order: row numbers and numbered ids by number.

    Ids are often row numbers kept as text, and by text "1002" sorts before "2".
    """
    parts = re.split(r"(\d+)", str(item_id))
    return tuple(int(part) if i % 2 else part for i, part in enumerate(parts))


def _side_by_side(a: dict[str, float], b: dict[str, float]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, value in a.items():
        if name in b and name.startswith(SIDE_BY_SIDE_PREFIXES) and name not in ("n_items", "n_samples"):
            other = b[name]
            diff = other - value if math.isfinite(other) and math.isfinite(value) else math.nan
            out[name] = {"a": value, "b": other, "diff": diff}
    return out
