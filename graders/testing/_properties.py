"""``assert_grader_properties``: the laws every grader must obey, checked with hypothesis."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st

from graders._grader import Grader
from graders._registry import compile_spec
from graders._spec import BaseSpec
from graders._template import MissingVariable
from graders._types import Sample, SampleParseError, Score
from graders.testing._profiles import SCORE_TOLERANCE, LawFailure, bounds_of, close, expectations, profile, slots_of
from graders.testing._slots import graders_in
from graders.testing._strategies import edge_samples, items_for, reference_sample, samples_for, slot_answer

# Enough examples to find the usual bugs in a second or two per kind; callers can ask for more.
DEFAULT_MAX_EXAMPLES = 60
# Every edge case (each near miss, each wrong JSON type) is checked on this many items per run.
EDGE_ITEMS = 2
# Items, samples and details are shown in a failure message up to this many characters each.
_SHOW_CHARS = 400


class GraderPropertyError(AssertionError):
    """A grader broke a law. ``str()`` shows the law, the spec, the sample and the item.

    Attributes:
        law: The name of the broken law (``in_range``, ``reference_scores_max``, ...).
        message: What went wrong.
        spec: The spec JSON of the grader that broke it.
        sample: The sample mapping (or text) that broke it, shrunk by hypothesis.
        item: The item it was graded against.
    """

    def __init__(self, law: str, message: str, spec: Any, sample: Any, item: Any) -> None:
        self.law = law
        self.message = message
        self.spec = spec
        self.sample = sample
        self.item = item
        super().__init__(self._format())

    def _format(self) -> str:
        return (
            f"grader property {self.law!r} failed: {self.message}\n"
            f"  spec:   {_show(self.spec)}\n"
            f"  sample: {_show(self.sample)}\n"
            f"  item:   {_show(self.item)}"
        )


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _SHOW_CHARS else f"{text[:_SHOW_CHARS]}... [{len(text)} characters]"


def _spec_json(grader: Grader) -> Any:
    spec = grader.spec
    return spec.to_json() if isinstance(spec, BaseSpec) else repr(spec)


def check_sample(grader: Grader, sample: Any, item: Mapping[str, Any]) -> Score:
    """Grades one sample and checks the laws that hold for every sample; returns its Score.

    Laws: no exception escapes, no unexpected exception inside the kind (or a sub-grader), the
    value is a finite float within the grader's bounds, ``passed`` is a bool or None, the Score
    is JSON-ready, grading twice gives the same result, ``grade_batch`` agrees with ``grade``.

    Raises:
        LawFailure: a law did not hold.
    """
    try:
        score = grader.grade(sample, item)
    except Exception as exc:  # noqa: BLE001 - the law under test
        raise LawFailure("no_exceptions", f"grade raised {type(exc).__name__}: {exc}", sample) from None
    value = score.value
    if not isinstance(value, float | int) or isinstance(value, bool) or not math.isfinite(value):
        raise LawFailure("finite_value", f"value is {value!r}", sample)
    bounds = bounds_of(grader)
    if bounds is not None and not bounds[0] - SCORE_TOLERANCE <= value <= bounds[1] + SCORE_TOLERANCE:
        raise LawFailure("in_range", f"value {value} outside {list(bounds)}", sample)
    if score.passed not in (True, False, None):
        raise LawFailure("passed_is_bool", f"passed is {score.passed!r}", sample)
    try:
        json.dumps(score.to_dict(), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise LawFailure("json_ready", f"Score.to_dict() is not JSON: {exc}", sample) from None
    again = grader.grade(sample, item)
    if _outcome(again) != _outcome(score) and not _tolerated(grader, again, score):
        raise LawFailure("deterministic", f"graded twice: {_outcome(score)} then {_outcome(again)}", sample)
    batch = grader.grade_batch([sample], [item])[0]
    if _outcome(batch) != _outcome(score) and not _tolerated(grader, batch, score):
        raise LawFailure("batch_agrees", f"grade gave {_outcome(score)}, grade_batch {_outcome(batch)}", sample)
    _no_unexpected_exceptions(grader, sample, item)
    return score


def _no_unexpected_exceptions(grader: Grader, sample: Any, item: Mapping[str, Any]) -> None:
    """``grade`` turns any exception into an ``other_error`` score, which hides a kind's bugs;
    so call each kind's ``_grade`` itself. Only a missing template variable and output that is
    not JSON may escape it (``grade`` turns those into their own error kinds)."""
    for sub in graders_in(grader):
        if sub.is_async:
            continue  # a judge's _grade goes through grade; its errors are replies, not bugs
        try:
            sub._grade(Sample.of(sample), item)
        except (MissingVariable, SampleParseError):
            pass
        except Exception as exc:  # noqa: BLE001 - the law under test
            what = f"{type(exc).__name__}: {str(exc)[:300]}"
            raise LawFailure("no_unexpected_errors", f"{sub.spec.type} raised inside _grade: {what}", sample) from None


def _outcome(score: Score) -> tuple[float, bool | None, str | None]:
    return (score.value, score.passed, None if score.error is None else score.error.kind)


def check_item(grader: Grader, item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """Checks the laws that hold per item: the reference answer scores what it must (the
    maximum, for most kinds), an empty output scores the minimum, and the laws of every kind
    in the grader (a ``multi``'s children included).

    Raises:
        LawFailure: a law did not hold.
    """
    want_ref, want_empty = expectations(grader)
    ref = reference_sample(grader, item)
    if want_ref is not None and ref is not None:
        score = check_sample(grader, ref, item)
        if not score.abstained and not _tolerated(grader, score) and not close(score.value, want_ref):
            raise LawFailure("reference_scores_max", f"the reference answer scored {score.value}, not {want_ref}", ref)
    if want_empty is not None and not _blank_reference(grader, item):
        score = check_sample(grader, "", item)
        # an output the grader cannot read (not JSON, say) is an error score: that is fine too
        if score.error is None and not close(score.value, want_empty):
            raise LawFailure("empty_scores_min", f"an empty output scored {score.value}, not {want_empty}", "")
    for sub in graders_in(grader):
        for law in profile(sub.spec.type).laws:
            law(sub, item, draw)


def _tolerated(grader: Grader, *scores: Score) -> bool:
    """True when one of ``scores`` hit a limit the kind may hit on a busy machine (a time limit)."""
    kinds = {score.error.kind for score in scores if score.error is not None}
    return any(kinds & profile(sub.spec.type).tolerated_errors for sub in graders_in(grader))


def _blank_reference(grader: Grader, item: Mapping[str, Any]) -> bool:
    for slot in slots_of(grader):
        answer = slot_answer(slot, item)
        if answer is None or (isinstance(answer, str | list | dict) and not str(answer).strip(" []{}\"'\n\t")):
            return True
    return False


def assert_grader_properties(
    grader: Grader | Mapping[str, Any],
    items: Sequence[Mapping[str, Any]] | None = None,
    *,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    derandomize: bool = False,
) -> None:
    """Checks that a grader obeys the laws every grader must obey, on generated outputs.

    For each example, hypothesis picks an item (one of ``items``, or a generated one that fits
    the spec) and an output for it (the reference answer, near misses, wrong JSON types, missing
    fields, adversarial text), then checks: no exception, the value is finite and within the
    grader's range, ``passed`` is a bool or None, grading is deterministic and ``grade_batch``
    agrees with ``grade``, the reference answer itself scores the maximum, an empty output the
    minimum, and the kind's own laws (list_rank non-increasing in rank, field_match invariant
    under key order, numeric invariant under the formatting of the same number, multi equal to
    its formula and within the formula's bounds).

    Args:
        grader: A compiled Grader or spec JSON.
        items: Real dataset rows to test on; when None, items are generated from the spec.
        max_examples: How many (item, output) examples hypothesis tries.
        derandomize: Use a fixed seed (same examples on every run, as ``rftkit check`` does).

    Raises:
        GraderPropertyError: a law failed; the message shows the law, the spec and the minimal
            (shrunk) sample and item that break it.

    Example:
        >>> from graders.testing import assert_grader_properties
        >>> assert_grader_properties({"type": "string_check", "name": "exact", "operation": "eq",
        ...     "input": "{{sample.output_text}}", "reference": "{{item.answer}}"}, max_examples=10)
    """
    if not isinstance(grader, Grader):
        with compile_spec(grader) as compiled:
            return assert_grader_properties(compiled, items, max_examples=max_examples, derandomize=derandomize)
    item_strategy = st.sampled_from(list(items)) if items else items_for(grader)
    health = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
    health += [HealthCheck.nested_given, HealthCheck.large_base_example]
    edged: set[str] = set()

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=derandomize,
        suppress_health_check=health,
        verbosity=Verbosity.quiet,
        # no explain phase: it traces every line of the grader, which costs more than the search
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    )
    @given(st.data())
    def laws(data: st.DataObject) -> None:
        item = data.draw(item_strategy, label="item")
        sample = data.draw(samples_for(grader, item), label="sample")
        key = repr(item)
        try:
            if len(edged) < EDGE_ITEMS or key in edged:
                edged.add(key)
                for edge in edge_samples(grader, item):
                    check_sample(grader, edge, item)
            check_sample(grader, sample, item)
            check_item(grader, item, data.draw)
        except LawFailure as failure:
            raise GraderPropertyError(failure.law, failure.message, _spec_json(grader), failure.sample, item) from None

    laws()
    return None
