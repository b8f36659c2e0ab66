"""``list_rank``: partial credit by the position of the right answer in a ranked list.

The rare-disease gene-ranking grader: the model lists genes, most likely first; the right gene
in first place earns 1.0, in second place less (0.7 in the hosted demo), and nothing when absent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from graders._details import RANK
from graders._errors import ErrorKind
from graders._grader import Grader, TemplateGrader
from graders._registry import register
from graders._spec import BaseSpec
from graders._types import Sample, Score, clip

# Entries looked at per sample: a list this long is already far past any useful ranking, and
# normalising millions of entries would stall a training step.
MAX_ENTRIES = 100_000
# Text outputs are split into entries; text beyond this is not read.
MAX_TEXT_CHARS = 2_000_000

# Distinct references whose normalised form is kept; the cache starts over past this.
MAX_CACHED_REFERENCES = 10_000

_BULLET = re.compile(r"^\s*(?:\(?\d{1,4}[.):]|[-*+•])\s+")
_TRIM = "\"'`*_ \t"


# A minimal spec of this kind: shown in the JSON Schema and used by the round-trip tests.
EXAMPLE: dict[str, Any] = {
    "type": "list_rank",
    "name": "gene_rank",
    "input": "{{sample.output_json.genes}}",
    "reference": "{{item.correct_answer}}",
    "decay": "exponential",
    "base": 0.7,
    "max_items": 20,
}


class ListRankSpec(BaseSpec):
    """Scores the rank of the reference in a ranked list.

    ``input`` resolves to the list: a JSON array (``{{sample.output_json.genes}}``) or text
    (``{{sample.output_text}}``), which is read as a JSON array when it is one, else split into
    entries by lines, or by commas/semicolons when it is one line; list markers (``1.``, ``2)``,
    ``-``, ``*``) and surrounding quotes or ``**`` are stripped. ``reference`` resolves to the
    accepted answer, or a list of accepted answers (the best-ranked one counts).

    Entries are compared after collapsing whitespace and, unless ``case_sensitive``, case
    folding; ``aliases`` maps synonyms to a canonical name (``{"TSC-2": "TSC2"}``) on both sides.
    Duplicates count at their first position: the list is de-duplicated before ranking, so
    ``["A", "A", "B"]`` puts ``B`` at rank 2.

    Rank r (1-based) maps to a score by ``decay``:

    * ``table``: ``table[r-1]``, 0 past the table (``[1.0, 0.7, 0.5]``);
    * ``linear``: ``max(0, 1 - (r-1)/k)``: 1 at rank 1, 0 from rank k+1;
    * ``exponential``: ``base ** (r-1)`` (``base`` 0.7 gives 1.0, 0.7, 0.49, ...);
    * ``reciprocal``: ``1/r`` (mean reciprocal rank).

    A reference that is absent, or ranked past ``cutoff``, scores 0. A list padded with
    hundreds of guesses earns whatever the decay gives the right answer's rank: with
    ``reciprocal``, rank 200 still earns 0.005, so padding is rewarded a little; ``table`` and
    ``linear`` pay nothing past their length. ``max_items`` closes the loophole: a list with
    more distinct entries than that scores 0 (``details.too_long``).
    """

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    type: Literal["list_rank"] = "list_rank"
    input: str
    reference: str
    decay: Literal["table", "linear", "exponential", "reciprocal"] = "reciprocal"
    table: list[float] | None = Field(default=None, min_length=1)
    k: int | None = Field(default=None, ge=1, description="linear decay: ranks past k score 0")
    base: float | None = Field(default=None, gt=0, lt=1, description="exponential decay factor")
    cutoff: int | None = Field(default=None, ge=1, description="ranks past this score 0")
    max_items: int | None = Field(default=None, ge=1, description="lists longer than this score 0")
    case_sensitive: bool = False
    aliases: dict[str, str] | None = None
    pass_threshold: float | None = None

    @model_validator(mode="after")
    def _decay_parameters(self) -> ListRankSpec:
        needs = {"table": "table", "linear": "k", "exponential": "base"}.get(self.decay)
        if needs is not None and getattr(self, needs) is None:
            raise ValueError(f"decay {self.decay!r} needs the field {needs!r}")
        return self


class ListRankGrader(TemplateGrader[ListRankSpec]):
    def __init__(self, spec: ListRankSpec) -> None:
        super().__init__(spec, spec.input, spec.reference)
        self.case_sensitive = spec.case_sensitive
        self.aliases = {self._clean(k): self._clean(v) for k, v in (spec.aliases or {}).items()}
        self.cutoff = spec.cutoff
        self.max_items = spec.max_items
        self.pass_threshold = spec.pass_threshold
        self.scores = self._score_table(spec)
        # Normalised references by raw reference text: a dataset repeats its answers, and an RL
        # step grades several samples per item.
        self._reference_cache: dict[str, tuple[set[str], list[str]]] = {}

    @staticmethod
    def _score_table(spec: ListRankSpec) -> list[float] | None:
        """Scores by rank up to where they reach 0 (None: reciprocal, computed per rank)."""
        if spec.decay == "table":
            return list(spec.table or [])
        if spec.decay == "linear":
            k = spec.k or 1
            return [1.0 - r / k for r in range(k)]
        if spec.decay == "exponential":
            base = spec.base or 0.5
            # Past ~1e-9 the reward is noise; stop the table there.
            return [base**r for r in range(2_000) if base**r > 1e-9]
        return None

    def _clean(self, entry: str) -> str:
        entry = " ".join(entry.split())
        return entry if self.case_sensitive else entry.casefold()

    def _normalise(self, entry: Any) -> str:
        text = entry if isinstance(entry, str) else json.dumps(entry, ensure_ascii=False)
        cleaned = self._clean(text)
        return self.aliases.get(cleaned, cleaned) if self.aliases else cleaned

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        raw = self.reference.resolve(sample, item)
        cached = self._reference_cache.get(raw) if raw.__class__ is str else None
        if cached is None:
            found = self._references(raw)
            if isinstance(found, Score):
                return found
            cached = (found, sorted(found))
            if raw.__class__ is str:
                if len(self._reference_cache) >= MAX_CACHED_REFERENCES:
                    self._reference_cache.clear()
                self._reference_cache[raw] = cached
        references, reference_list = cached
        listed = self.input.resolve(sample, item)
        if listed.__class__ is list and len(listed) <= MAX_ENTRIES:
            entries = listed  # the usual JSON array, taken as it is
        else:
            found_entries = self._entries(listed)
            if isinstance(found_entries, Score):
                return found_entries
            entries = found_entries
        # _normalise inlined: this runs for every entry of every sample. The common options (case
        # folding, no aliases) take one expression without the per-option checks.
        dumps, join = json.dumps, " ".join
        fold = not self.case_sensitive
        aliases = self.aliases
        common = fold and not aliases
        seen: set[str] = set()
        add = seen.add
        rank = None
        matched = None
        for entry in entries:
            if common:
                name = join((entry if entry.__class__ is str else dumps(entry, ensure_ascii=False)).split()).casefold()
            else:
                name = join((entry if entry.__class__ is str else dumps(entry, ensure_ascii=False)).split())
                if fold:
                    name = name.casefold()
                if aliases:
                    name = aliases.get(name, name)
            if name and name not in seen:
                add(name)
                if rank is None and name in references:
                    rank = len(seen)
                    matched = entry
        # A copy of the cached list: each Score owns its details.
        details: dict[str, Any] = {RANK: rank, "list_length": len(seen), "reference": [*reference_list]}
        if matched is not None:
            details["matched"] = clip(matched) if isinstance(matched, str) else matched
        if self.max_items is not None and len(seen) > self.max_items:
            details["too_long"] = True
            return Score(0.0, False if self.pass_threshold is not None else None, details, None)
        if rank is None or (self.cutoff is not None and rank > self.cutoff):
            value = 0.0
        elif self.scores is None:
            value = 1.0 / rank
        else:
            value = self.scores[rank - 1] if rank <= len(self.scores) else 0.0
        passed = None if self.pass_threshold is None else value >= self.pass_threshold
        return Score(value, passed, details, None)

    def _references(self, value: Any) -> set[str] | Score:
        if isinstance(value, str) and value.lstrip().startswith("["):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        values = value if isinstance(value, list) else [value]
        refs = {self._normalise(v) for v in values if isinstance(v, (str, int, float)) and not isinstance(v, bool)}
        refs.discard("")
        if not refs:
            message = f"reference {clip(str(value))!r} holds no answer to rank"
            return Score.failure(ErrorKind.REFERENCE_PARSE_ERROR, message)
        return refs

    def _entries(self, value: Any) -> list[Any] | Score:
        if isinstance(value, list):
            return value if len(value) <= MAX_ENTRIES else value[:MAX_ENTRIES]
        if isinstance(value, str):
            return _split(value[:MAX_TEXT_CHARS])[:MAX_ENTRIES]
        if isinstance(value, Mapping):
            return Score.failure(ErrorKind.SAMPLE_PARSE_ERROR, "expected a list of entries, got a JSON object")
        if value is None:
            return []
        return [value]


def _split(text: str) -> list[Any]:
    """Reads text as a JSON array, else splits it into entries (lines, or commas on one line)."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            parsed = json.loads(stripped)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, list):
            return parsed
    lines = [line for line in stripped.splitlines() if line.strip()]
    if len(lines) <= 1:
        lines = re.split(r"[,;]", stripped)
    return [_BULLET.sub("", line).strip(_TRIM) for line in lines]


@register(ListRankSpec)
def compile_list_rank(spec: ListRankSpec) -> Grader:
    return ListRankGrader(spec)
