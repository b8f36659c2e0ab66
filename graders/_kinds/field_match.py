"""``field_match``: per-field precision / recall / F1 of a JSON output against a reference object."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from graders._errors import ErrorKind, SpecError
from graders._grader import Grader, TemplateGrader
from graders._registry import register
from graders._spec import BaseSpec
from graders._template import render_value
from graders._types import MAX_JSON_CHARS, Sample, Score, clip

Compare = Literal["exact", "ilike", "fuzzy", "numeric", "set"]
# Options that belong to one comparison; setting one for another comparison is a spec error.
_OPTION_COMPARE = {"threshold": "fuzzy", "abs_tol": "numeric", "rel_tol": "numeric"}
# math.isclose's default: "equal up to float rounding" when no tolerance is given.
DEFAULT_REL_TOL = 1e-9
# Extra output keys listed in details: evidence, not a copy of an output padded with 10,000 keys.
MAX_LISTED_EXTRAS = 50


class FieldRule(BaseModel):
    """How one field is compared, and how much it weighs.

    Comparisons (each gives the field a score from 0 to 1):

    * ``exact``: JSON equality (``1 == 1.0``; ``true`` is not ``1``; objects and lists compared deeply);
    * ``ilike``: the output value *contains* the reference value, case-insensitive (``string_check``'s
      ``ilike``); non-strings are compared as their JSON text;
    * ``fuzzy``: ``rapidfuzz.fuzz.ratio`` with ``utils.default_process``, / 100; a similarity below
      ``threshold`` counts 0 (at or above it, the similarity itself counts);
    * ``numeric``: 1 when the numbers agree within ``abs_tol`` or ``rel_tol`` (``math.isclose``; numeric
      strings such as ``"3.5"`` are read as numbers, booleans are not numbers), else 0;
    * ``set``: F1 of the two lists' distinct elements (a scalar counts as a one-element list; two
      empty lists score 1).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    compare: Compare = "exact"
    weight: float = Field(default=1.0, gt=0, description="The field's weight in precision and recall.")
    threshold: float | None = Field(default=None, ge=0, le=1, description="fuzzy only: minimum similarity.")
    abs_tol: float | None = Field(default=None, ge=0, description="numeric only: absolute tolerance.")
    rel_tol: float | None = Field(default=None, ge=0, description="numeric only: relative tolerance.")


# A minimal spec of this kind: shown in the JSON Schema and used by the round-trip tests.
EXAMPLE: dict[str, Any] = {
    "type": "field_match",
    "name": "extraction",
    "input": "{{sample.output_json}}",
    "reference": "{{item.expected}}",
    "fields": {
        "name": {"compare": "fuzzy", "threshold": 0.8},
        "age": {"compare": "numeric", "abs_tol": 0.5, "weight": 2},
    },
    "score": "f1",
}


class FieldMatchSpec(BaseSpec):
    """Compares the fields of a JSON object (``input``) with a reference object (``reference``).

    ``input`` and ``reference`` are templates; a one-variable template gives the raw value, and a
    string is parsed as JSON. An output that is not a JSON object is a ``sample_parse_error``; a
    reference that is not one is a ``reference_parse_error`` (the sample is not graded: abstention).

    The compared fields are the keys of ``fields`` (each with its rule), or every reference key
    compared with ``exact`` when ``fields`` is not given. A compared field the reference lacks is not
    expected. With weights ``w`` and field scores ``s`` (0..1)::

        matched   = sum(w[f] * s[f] for expected fields f present in the output)
        recall    = matched / sum(w[f] for expected fields f)            (missing fields count here)
        precision = matched / (sum(w[f] for expected fields f present in the output)
                               + sum(w[e] for extra output keys e))      (extras count here)
        f1        = 2 * precision * recall / (precision + recall)        (0 when both are 0)

    An extra key is an output key that is not an expected field; it weighs its ``fields`` weight if
    listed there, else 1. ``extra_fields: "ignore"`` leaves extras out of precision. A reference with
    no expected field gives recall 1 and precision 1 (0 if the output has extra keys). ``score``
    chooses the value (``f1`` by default); ``pass_threshold`` sets ``passed``. ``details`` holds
    ``precision``, ``recall``, ``f1``, ``fields`` (each expected field's score), ``missing`` and
    ``extra`` (the first 50 extra keys, with ``extra_count`` when there are more).
    """

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    type: Literal["field_match"] = "field_match"
    input: str = Field(default="{{sample.output_json}}", description="Template giving the output object.")
    reference: str = Field(description="Template giving the reference object, e.g. '{{item.expected}}'.")
    fields: dict[str, FieldRule] | None = None
    score: Literal["f1", "precision", "recall"] = "f1"
    extra_fields: Literal["penalize", "ignore"] = "penalize"
    pass_threshold: float | None = None


Comparator = Callable[[Any, Any], float]


class FieldMatchGrader(TemplateGrader[FieldMatchSpec]):
    def __init__(self, spec: FieldMatchSpec) -> None:
        super().__init__(spec, spec.input, spec.reference)
        rules = spec.fields
        self.rules: dict[str, tuple[Comparator, float]] | None = None
        if rules is not None:
            self.rules = {name: (_comparator(rule, ("fields", name)), rule.weight) for name, rule in rules.items()}
        # The rules as a list, for the per-sample loop.
        self._rule_list = [(name, cmp, w) for name, (cmp, w) in (self.rules or {}).items()]
        self.measure = spec.score
        self.penalize_extras = spec.extra_fields == "penalize"
        self.threshold = spec.pass_threshold

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        reference = self.reference.resolve(sample, item)
        if reference.__class__ is not dict:
            reference = _as_object(reference)
            if reference is None:
                return Score.failure(ErrorKind.REFERENCE_PARSE_ERROR, "the reference is not a JSON object")
        output = self.input.resolve(sample, item)
        if output.__class__ is not dict:
            output = _as_object(output)
            if output is None:
                return Score.failure(ErrorKind.SAMPLE_PARSE_ERROR, "the output is not a JSON object")
        rules = self.rules
        # Without rules every reference field is expected; with rules, those the reference has.
        expected = self._rule_list if rules is not None else [(name, _exact, 1.0) for name in reference]
        scores: dict[str, float] = {}
        missing: list[str] | None = None
        total = matched = present = 0.0
        found = 0
        for name, cmp, weight in expected:
            if name not in reference:
                continue
            total += weight
            if name in output:
                s = cmp(output[name], reference[name])
                scores[name] = s
                matched += weight * s
                present += weight
                found += 1
            else:
                scores[name] = 0.0
                if missing is None:
                    missing = []
                missing.append(name)
        extra = [key for key in output if key not in scores] if len(output) > found else None
        if extra and self.penalize_extras:
            for key in extra:
                present += rules[key][1] if rules is not None and key in rules else 1.0
        recall = matched / total if total else 1.0
        precision = matched / present if present else (0.0 if total else 1.0)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        measure = self.measure
        value = f1 if measure == "f1" else precision if measure == "precision" else recall
        passed = None if self.threshold is None else value >= self.threshold
        details: dict[str, Any] = {"precision": precision, "recall": recall, "f1": f1, "fields": scores}
        if missing:
            details["missing"] = missing
        if extra:
            details["extra"] = [clip(key) for key in extra[:MAX_LISTED_EXTRAS]]
            if len(extra) > MAX_LISTED_EXTRAS:
                details["extra_count"] = len(extra)
        return Score(value, passed, details, None)


def _as_object(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        if len(value) > MAX_JSON_CHARS:
            return None
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


def _comparator(rule: FieldRule, path: tuple[str | int, ...]) -> Comparator:
    for option, compare in _OPTION_COMPARE.items():
        if getattr(rule, option) is not None and rule.compare != compare:
            raise SpecError(f"{option!r} applies only to compare {compare!r}, not {rule.compare!r}", (*path, option))
    if rule.compare == "exact":
        return _exact
    if rule.compare == "ilike":
        return _ilike
    if rule.compare == "fuzzy":
        return _fuzzy(rule.threshold or 0.0)
    if rule.compare == "numeric":
        return _numeric(rule.abs_tol or 0.0, DEFAULT_REL_TOL if rule.rel_tol is None else rule.rel_tol)
    return _set_f1


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value (1 == 1.0), booleans never equal to numbers, deep for containers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return (type(a) is type(b) or (_is_number(a) and _is_number(b))) and bool(a == b)


def _is_number(value: Any) -> bool:
    return value.__class__ is int or value.__class__ is float


def _exact(got: Any, ref: Any) -> float:
    return 1.0 if json_equal(got, ref) else 0.0


def _ilike(got: Any, ref: Any) -> float:
    got = got if got.__class__ is str else render_value(got)
    ref = ref if ref.__class__ is str else render_value(ref)
    return 1.0 if ref.casefold() in got.casefold() else 0.0


def _fuzzy(threshold: float) -> Comparator:
    from rapidfuzz import fuzz, utils

    ratio, process = fuzz.ratio, utils.default_process

    def fuzzy(got: Any, ref: Any) -> float:
        got = got if got.__class__ is str else render_value(got)
        ref = ref if ref.__class__ is str else render_value(ref)
        s = ratio(got, ref, processor=process) / 100.0
        return s if s >= threshold else 0.0

    return fuzzy


def _number(value: Any) -> float | None:
    cls = value.__class__
    if cls is float or cls is int:
        return float(value)
    if isinstance(value, str) and len(value) < 100:
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _numeric(abs_tol: float, rel_tol: float) -> Comparator:
    isclose = math.isclose

    def numeric(got: Any, ref: Any) -> float:
        # Two JSON numbers (the usual case) skip _number's checks.
        try:
            a = float(got) if got.__class__ is int or got.__class__ is float else _number(got)
            b = float(ref) if ref.__class__ is int or ref.__class__ is float else _number(ref)
        except OverflowError:  # an integer beyond float range: JSON allows any number of digits
            return 0.0
        if a is None or b is None:
            return 0.0
        return 1.0 if isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol) else 0.0

    return numeric


def _canonical(value: Any) -> Any:
    """A hashable key under which elements equal as JSON coincide (1 and 1.0; never true and 1)."""
    cls = value.__class__
    if cls is str or cls is int or cls is float:
        return value  # 1 == 1.0 with equal hashes, so a set already treats them as one
    if cls is bool or value is None:
        return (cls.__name__, value)
    return ("json", json.dumps(value, sort_keys=True, ensure_ascii=False))


def _element_set(value: Any) -> set[Any]:
    values = value if isinstance(value, list) else [value]
    for x in values:
        cls = x.__class__
        if cls is not str and cls is not int and cls is not float:
            return {_canonical(x) for x in values}
    return set(values)  # strings and numbers are their own canonical form


def _set_f1(got: Any, ref: Any) -> float:
    got_set = _element_set(got)
    ref_set = _element_set(ref)
    if not got_set and not ref_set:
        return 1.0
    common = len(got_set & ref_set)
    return 2 * common / (len(got_set) + len(ref_set))


@register(FieldMatchSpec)
def compile_field_match(spec: FieldMatchSpec) -> Grader:
    return FieldMatchGrader(spec)
