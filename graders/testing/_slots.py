"""Where a spec reads the model output, and how to build an output that puts a value there.

A *slot* is one ``input`` template of a grader (``{{sample.output_json.genes}}``) with the
``reference`` template it is compared with. Inverting the input template turns a value (the
reference answer, a near miss, a probe) into a sample mapping the grader reads it from, so the
strategies and probes work for any kind that compares an ``input`` with a ``reference``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graders._grader import Grader
from graders._template import MissingVariable, Template, Variable, render_value
from graders._types import Sample, SampleParseError

_NO_SAMPLE = Sample("")


@dataclass(frozen=True)
class Slot:
    """One place a grader reads the output from, and what it compares it with.

    Attributes:
        grader: The (sub-)grader that owns the slot.
        input: Its ``input`` template (reads the sample).
        reference: Its ``reference`` template, or None when the kind has none (model judges).
    """

    grader: Grader
    input: Template
    reference: Template | None

    @property
    def kind(self) -> str:
        return self.grader.spec.type

    def reference_value(self, item: Mapping[str, Any]) -> Any:
        """The reference for ``item``: the raw value of a one-variable template, else the text."""
        if self.reference is None:
            raise LookupError("this slot has no reference")
        try:
            return self.reference.resolve(_NO_SAMPLE, item)
        except (MissingVariable, SampleParseError) as exc:
            raise LookupError(str(exc)) from None

    def reference_path(self) -> tuple[str | int, ...] | None:
        """The item path of a reference that is exactly ``{{item.a.b}}``, else None."""
        ref = self.reference
        if ref is None or ref.variable is None or ref.variable.namespace != "item" or not ref.variable.steps:
            return None
        return ref.variable.steps

    def output_path(self) -> tuple[str | int, ...] | None:
        """Where in the sample the input template reads (``("output_json", "genes")``), or None."""
        variables = [p for p in self.input.parts if isinstance(p, Variable)]
        if len(variables) != 1 or variables[0].namespace != "sample":
            return None
        return variables[0].steps

    def place(self, value: Any) -> dict[str, Any] | None:
        """A sample mapping whose ``input`` template yields ``value``; None when it cannot be built."""
        return place(self.input, value)


def place(template: Template, value: Any) -> dict[str, Any] | None:
    """Inverts a template: the sample mapping from which ``template`` reads ``value``.

    Works for a template made of one ``{{sample...}}`` variable and literal text around it
    (the text must then be a string with that prefix and suffix). Returns None otherwise
    (item variables in the input, several sample variables, a prefix that does not match).
    """
    variables = [p for p in template.parts if isinstance(p, Variable)]
    if len(variables) != 1 or variables[0].namespace != "sample":
        return None
    var = variables[0]
    index = template.parts.index(var)
    prefix = "".join(p for p in template.parts[:index] if isinstance(p, str))
    suffix = "".join(p for p in template.parts[index + 1 :] if isinstance(p, str))
    if prefix or suffix:
        text = render_value(value)
        if not (text.startswith(prefix) and text.endswith(suffix)) or len(text) < len(prefix) + len(suffix):
            return None
        value = text[len(prefix) : len(text) - len(suffix)]
    field, *rest = var.steps
    if field == "output_text":
        return {"output_text": render_value(value)} if not rest else None
    return {str(field): _build(rest, value)}


def _build(steps: list[str | int], value: Any) -> Any:
    if not steps:
        return value
    step, rest = steps[0], steps[1:]
    inner = _build(rest, value)
    if isinstance(step, str):
        return {step: inner}
    if step >= 0:
        return [None] * step + [inner]
    return [inner] + [None] * (-step - 1)


class _Conflict(Exception):
    pass


def merge(samples: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Deep-merges sample mappings built for several slots; None when two of them disagree."""
    if any(s is None for s in samples):
        return None
    out: dict[str, Any] = {}
    try:
        for sample in samples:
            out = _merge(out, sample)
    except _Conflict:
        return None
    if "output_text" in out and len(out) > 1:
        return None  # one slot reads the text, another the JSON: one output cannot be both
    return out


def _merge(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for key, value in b.items():
            out[key] = _merge(out.get(key), value)
        return out
    if isinstance(a, list) and isinstance(b, list):
        longer, shorter = (a, b) if len(a) >= len(b) else (b, a)
        return [_merge(x, shorter[i] if i < len(shorter) else None) for i, x in enumerate(longer)]
    if a == b and type(a) is type(b):
        return a
    raise _Conflict


def nested(slots: list[Slot]) -> bool:
    """True when one slot reads inside what another reads (``output_json`` and
    ``output_json.answer``): no one output holds both reference answers unchanged."""
    paths = [slot.output_path() for slot in slots]
    return any(
        a is not None and b is not None and len(a) < len(b) and b[: len(a)] == a
        for a in paths
        for b in paths
    )


def graders_in(grader: Grader) -> list[Grader]:
    """The grader and every sub-grader below it (``multi`` children), parents first."""
    out = [grader]
    children = getattr(grader, "children", None)
    if isinstance(children, Mapping):
        for child in children.values():
            out.extend(graders_in(child))
    return out
