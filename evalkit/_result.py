"""Per-item scores (``ItemScores``) and the result of an evaluation run (``EvalResult``)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graders import Score


@dataclass(slots=True)
class ItemScores:
    """The scores of one item's samples.

    Attributes:
        id: The item id (a string).
        scores: One Score per prediction of the item, in prediction order.
        group: The item's values of the ``by`` fields (as strings), for breakdowns.
    """

    id: str
    scores: list[Score]
    group: dict[str, str] = field(default_factory=dict)

    @property
    def value(self) -> float | None:
        """Mean value over the samples that were scored (None when every sample abstained)."""
        total = 0.0
        count = 0
        for score in self.scores:
            if not score.abstained:
                total += score.value
                count += 1
        return total / count if count else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready line written to ``scores.jsonl``."""
        value = self.value
        return {
            "id": self.id,
            "value": value if value is None or math.isfinite(value) else None,
            "group": self.group,
            "scores": [score.to_dict() for score in self.scores],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ItemScores:
        """Reads back a ``scores.jsonl`` line."""
        return cls(str(data["id"]), [Score.from_dict(s) for s in data["scores"]], dict(data.get("group") or {}))


@dataclass
class EvalResult:
    """The result of ``evaluate``: metrics, per-group metrics and per-item scores.

    Attributes:
        metrics: Flat dict of numbers with stable keys: ``mean``, ``stderr``, ``ci_low``,
            ``ci_high``, ``n``, ``n_items``, ``n_samples``, ``error_rate``,
            ``error_rate/<kind>``, ``not_scored``, ``not_scored_rate``; ``pass_rate`` when the
            grader sets ``passed``; ``top@<k>`` and ``top@max`` when it records ranks;
            ``pass@<k>`` and ``maj@<k>`` when items have several samples. See ``evalkit.metrics``.
        groups: ``{field: {value: metrics}}`` for each ``by`` field.
        items: Per-item scores, in dataset order (resumed or merged runs: file order).
        config: What produced the run: grader spec, sources, k, by, seed, skipped lines.
    """

    metrics: dict[str, float]
    groups: dict[str, dict[str, dict[str, float]]]
    items: list[ItemScores]
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def scores(self) -> dict[str, ItemScores]:
        """Per-item scores by item id."""
        return {item.id: item for item in self.items}

    def to_dict(self, *, with_items: bool = False) -> dict[str, Any]:
        """The report as a dict: ``{"metrics", "groups", "config"}`` (and ``"items"`` when asked)."""
        out: dict[str, Any] = jsonable({"metrics": self.metrics, "groups": self.groups, "config": self.config})
        if with_items:
            out["items"] = [item.to_dict() for item in self.items]
        return out

    def table(self) -> str:
        """The metrics (and each breakdown) as plain-text tables, as ``rftkit eval`` prints them."""
        from evalkit._report import terminal

        return terminal(self)

    def to_json(self, *, with_items: bool = False, indent: int | None = 2) -> str:
        """``to_dict`` as a JSON string (NaN written as null)."""
        return json.dumps(self.to_dict(with_items=with_items), indent=indent, ensure_ascii=False)


def jsonable(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
