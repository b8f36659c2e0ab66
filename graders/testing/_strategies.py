"""Hypothesis strategies for a given grader: items, samples, and random valid specs of any kind."""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from graders._errors import GraderError
from graders._grader import Grader
from graders._registry import compile_spec, kinds, parse_spec
from graders._spec import BaseSpec
from graders.testing import _values as values
from graders.testing._profiles import profile, slots_of
from graders.testing._slots import Slot, graders_in, merge, nested

SampleMapping = dict[str, Any]
GraderLike = Grader | Mapping[str, Any]


def as_grader(grader: GraderLike) -> Grader:
    """A compiled grader from a Grader or spec JSON."""
    return grader if isinstance(grader, Grader) else compile_spec(grader)


def reference_sample(grader: GraderLike, item: Mapping[str, Any]) -> SampleMapping | None:
    """The output that gives every slot of ``grader`` its reference answer for ``item``.

    Returns None when the grader has no reference to aim at (a python grader), when its input
    templates cannot be inverted (see ``graders.testing`` for the rules), or when one of its
    sub-graders reads inside what another reads (no one output holds both answers unchanged).

    Example:
        >>> from graders import compile_spec
        >>> g = compile_spec({"type": "string_check", "name": "x", "operation": "eq",
        ...                   "input": "{{sample.output_json.answer}}", "reference": "{{item.answer}}"})
        >>> reference_sample(g, {"answer": "Paris"})
        {'output_json': {'answer': 'Paris'}}
    """
    slots = slots_of(as_grader(grader))
    if not slots or nested(slots):
        return None
    return merge([_answer_sample(slot, item) for slot in slots])


def _answer_sample(slot: Slot, item: Mapping[str, Any]) -> SampleMapping | None:
    answer = slot_answer(slot, item)
    return None if answer is NO_ANSWER else slot.place(answer)


NO_ANSWER: Any = object()
"""What ``slot_answer`` returns for a slot with no answer to aim at."""


def slot_answer(slot: Slot, item: Mapping[str, Any]) -> Any:
    """The output value that earns full marks in ``slot`` (``NO_ANSWER`` when there is none)."""
    try:
        return profile(slot.kind).answer(slot, item)
    except LookupError:
        return NO_ANSWER


def with_slot(grader: Grader, item: Mapping[str, Any], slot: Slot, value: Any) -> SampleMapping | None:
    """The reference output with one slot's value replaced by ``value`` (in every slot that reads
    the same place, so sub-graders reading one field all see the new value)."""
    path = slot.output_path()
    others = [_answer_sample(s, item) for s in slots_of(grader) if s != slot and s.output_path() != path]
    return merge([slot.place(value), *[o for o in others if o is not None]])


def items_for(grader: GraderLike) -> st.SearchStrategy[dict[str, Any]]:
    """Items for ``grader`` (a Grader or spec JSON): each field a reference template reads gets a value of the kind's
    reference type (a number for ``numeric``, an object for ``field_match``, ...), every other
    field the spec reads gets plain text.

    Example:
        >>> from graders import compile_spec
        >>> g = compile_spec({"type": "string_check", "name": "x", "operation": "eq",
        ...                   "input": "{{sample.output_text}}", "reference": "{{item.answer}}"})
        >>> sorted(items_for(g).example())
        ['answer']
    """
    return _items(as_grader(grader))


@st.composite
def _items(draw: st.DrawFn, grader: Grader) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for slot in slots_of(grader):
        path = slot.reference_path()
        if path is None or not isinstance(path[0], str):
            continue
        value = draw(profile(slot.kind).reference_values(slot.grader), label=f"item.{path[0]}")
        _set_path(item, path, value)
    # A kind's own field strategies before plain words: a template may read a field only the
    # kind knows the shape of (``code_tests``' tests and cases).
    for sub in graders_in(grader):
        for name, strategy in profile(sub.spec.type).item_fields(sub).items():
            if name not in item:
                item[name] = draw(strategy, label=f"item.{name}")
    for name in sorted(grader.item_fields - item.keys()):
        item[name] = draw(values.words(), label=f"item.{name}")
    return item


def _set_path(item: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    node: Any = item
    for step, nxt in zip(path, path[1:], strict=False):
        if isinstance(node, dict):
            default: Any = [] if isinstance(nxt, int) else {}
            node = node.setdefault(step, default)
        elif isinstance(node, list) and isinstance(step, int):
            while len(node) <= step:
                node.append([] if isinstance(nxt, int) else {})
            node = node[step]
        else:
            return
    last = path[-1]
    if isinstance(node, dict) and last not in node:
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last >= 0:
        while len(node) <= last:
            node.append(None)
        node[last] = value


def samples_for(grader: GraderLike, item: Mapping[str, Any]) -> st.SearchStrategy[SampleMapping]:
    """Outputs for ``grader`` (a Grader or spec JSON) on ``item``, as sample mappings
    (``{"output_text": ...}``, ``{"output_json": ...}``, ...).

    A mix of the reference answer itself, near misses of it (an edit, a sign, a dropped field),
    values of the wrong JSON type, outputs missing the field the grader reads, adversarial text
    and arbitrary JSON.
    """
    grader = as_grader(grader)
    options = [_any_output()]
    ref = reference_sample(grader, item)
    if ref is not None:
        options.append(st.just(ref))
    for slot in slots_of(grader):
        answer = slot_answer(slot, item)
        if answer is NO_ANSWER:
            continue
        variants = st.sampled_from(values.near_miss_values(answer) + values.wrong_type_values(answer))
        options.append(_placed(variants, grader, item, slot))
    return st.one_of(options)


_MISSING: list[SampleMapping] = [{"output_json": {}}, {"output_json": []}, {"output_text": ""}, {"output_tools": []}]


def edge_samples(grader: Grader, item: Mapping[str, Any]) -> list[SampleMapping]:
    """Every structural edge case for ``item``, as a fixed list: each near miss and each wrong
    JSON type in each slot, and outputs missing what the grader reads. The property checks run
    all of them on the first items, so none depends on what the random search happens to draw."""
    out = list(_MISSING)
    for slot in slots_of(grader):
        answer = slot_answer(slot, item)
        if answer is NO_ANSWER:
            continue
        for value in values.near_miss_values(answer) + values.wrong_type_values(answer):
            sample = with_slot(grader, item, slot, value)
            if sample is not None:
                out.append(sample)
    return out


def _placed(
    variants: st.SearchStrategy[Any], grader: Grader, item: Mapping[str, Any], slot: Slot
) -> st.SearchStrategy[SampleMapping]:
    built = variants.map(lambda value: with_slot(grader, item, slot, value))
    return built.filter(lambda sample: sample is not None)  # type: ignore[return-value]


@functools.cache
def _any_output() -> st.SearchStrategy[SampleMapping]:
    # built once: validating these recursive strategies costs more than drawing from them
    return st.one_of(
        values.adversarial_text().map(lambda text: {"output_text": text}),
        values.json_values().map(lambda value: {"output_json": value}),
        st.sampled_from(_MISSING),
    )


# --- random valid specs -----------------------------------------------------------------------


def specs(kind: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Random valid spec JSON of ``kind`` (or of any registered kind).

    Kinds with a profile generate realistic specs; other kinds are built from their spec model's
    fields and kept when they parse. The specs validate with ``parse_spec``; they compile too
    wherever the kind is available.
    """
    names = [kind] if kind is not None else sorted(kinds())
    return st.one_of([_kind_specs(name) for name in names])


def _kind_specs(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    own = profile(kind).specs
    if own is not None:
        return own()
    return _specs_from_model(kinds()[kind].spec_model)


def _specs_from_model(model: type[BaseSpec]) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in model.model_fields.items():
        if name == "name":
            fields[name] = st.just(f"{model.model_fields['type'].default}_grader")
        elif name == "type":
            fields[name] = st.just(info.default)
        elif info.is_required():
            fields[name] = _field_values(name, info)
    return st.fixed_dictionaries(fields).filter(functools.partial(_valid, model))


_TEXT_FIELDS = {"input": "{{sample.output_text}}", "reference": "{{item.answer}}"}


def _field_values(name: str, info: FieldInfo) -> st.SearchStrategy[Any]:
    if name in _TEXT_FIELDS:
        return st.just(_TEXT_FIELDS[name])
    annotation = info.annotation
    if typing.get_origin(annotation) is typing.Literal:
        return st.sampled_from(typing.get_args(annotation))
    if annotation is str:
        return values.words(1, 3)
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(1, 10)
    if annotation is float:
        return st.floats(0, 1)
    return st.nothing()


def _valid(model: type[BaseSpec], data: dict[str, Any]) -> bool:
    try:
        # a registered kind through the registry (it resolves "any grader" fields), else the model
        parse_spec(data) if data.get("type") in kinds() else model.model_validate(data)
    except (GraderError, ValidationError):
        return False
    return True


def compiles(data: Mapping[str, Any]) -> bool:
    """True when ``data`` compiles (kinds that are not available in this install do not)."""
    try:
        compile_spec(data).close()
    except GraderError:
        return False
    return True
