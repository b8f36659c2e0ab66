"""Templates: ``{{item.a.b}}``, ``{{sample.output_json.x[0].y}}`` inside spec strings.

A template is parsed once, at compile time, into literal text and variable accessors; grading
only walks the accessors. Rendering rules (the hosted API leaves them undocumented):

* a string value is inserted as it is;
* any other value (number, bool, null, list, object) is inserted as JSON
  (``json.dumps(value, ensure_ascii=False)``: ``42``, ``true``, ``null``, ``["a", "b"]``);
* a template that is exactly one variable (``"{{sample.output_json.genes}}"``) also *resolves*
  to the raw value, so graders that want a list or an object get it unrendered.

A missing key or index raises ``MissingVariable`` (graded as ``invalid_variable_error``);
``sample.output_json`` on output that is not JSON raises ``SampleParseError``
(graded as ``sample_parse_error``).
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graders._errors import SpecError, did_you_mean
from graders._types import Sample

NAMESPACES = ("item", "sample")
SAMPLE_FIELDS = ("output_text", "output_json", "output_tools", "choices", "output_audio")

_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z_][\w\-]*)          # .name
      | \[\s*(?P<index>-?\d+)\s*\]            # [0]
      | \[\s*(?P<q>["'])(?P<key>.*?)(?P=q)\s*\]  # ["key with spaces"]
    """,
    re.VERBOSE,
)
_HEAD = re.compile(r"\s*(?P<ns>[A-Za-z_]\w*)")


class MissingVariable(Exception):
    """Raised at grade time when a template names a field the item or sample lacks."""


Step = str | int


class Variable:
    """One ``{{namespace.path}}`` accessor."""

    __slots__ = ("namespace", "steps", "text", "field")

    def __init__(self, namespace: str, steps: tuple[Step, ...], text: str) -> None:
        self.namespace = namespace
        self.steps = steps
        self.text = text
        # The Sample attribute a sample variable starts from (the parser checks it is a name).
        self.field = steps[0] if namespace == "sample" and isinstance(steps[0], str) else ""

    def resolve(self, sample: Sample, item: Mapping[str, Any]) -> Any:
        steps = self.steps
        if self.namespace == "item":
            value: Any = item
            start = 0
        else:
            value = getattr(sample, self.field)  # may raise SampleParseError for output_json
            start = 1
        for i in range(start, len(steps)):
            step = steps[i]
            try:
                value = value[step]
            except (KeyError, IndexError, TypeError):
                raise MissingVariable(self._missing(i, value)) from None
        return value

    def _missing(self, i: int, value: Any) -> str:
        step = self.steps[i]
        where = f"{self.namespace}{_format_steps(self.steps[:i])}"
        if isinstance(step, int):
            got = f"a list of {len(value)}" if isinstance(value, list) else type(value).__name__
            return f"{{{{{self.text}}}}}: index {step} out of range in {where} ({got})"
        if isinstance(value, Mapping):
            hint = did_you_mean(step, [str(k) for k in value])
            return f"{{{{{self.text}}}}}: {where} has no field {step!r}{hint}"
        return f"{{{{{self.text}}}}}: {where} is {type(value).__name__}, not an object"


def _format_steps(steps: Sequence[Step]) -> str:
    return "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)


def render_value(value: Any) -> str:
    """Renders a resolved value into template text: strings as is, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class Template:
    """A parsed template string.

    ``render`` and ``resolve`` are closures built at parse time for the template's shape (a
    constant, ``{{sample.output_text}}``, ``{{item.field}}``, one variable, or text with
    variables), so grading makes one call per template and does no parsing.

    Example:
        >>> t = Template.parse("Answer: {{ item.answer }}")
        >>> t.render(Sample.of("x"), {"answer": 42})
        'Answer: 42'
    """

    __slots__ = ("source", "parts", "variable", "item_fields", "render", "resolve", "render_text")

    render: Callable[[Sample, Mapping[str, Any]], str]
    """The template with every variable replaced by its rendered value."""
    resolve: Callable[[Sample, Mapping[str, Any]], Any]
    """The raw value for a one-variable template, else the rendered string."""
    render_text: TextRenderer | None
    """``render`` taking the output text instead of a Sample; None when the template reads
    another sample field. On a missing variable it raises a plain lookup error: batch fast paths
    then grade that sample through ``render`` for the proper error."""

    def __init__(self, source: str, parts: tuple[str | Variable, ...]) -> None:
        self.source = source
        self.parts = parts
        variables = [p for p in parts if isinstance(p, Variable)]
        self.variable = parts[0] if len(parts) == 1 and isinstance(parts[0], Variable) else None
        fields = set()
        for var in variables:
            if var.namespace == "item" and var.steps and isinstance(var.steps[0], str):
                fields.add(var.steps[0])
        self.item_fields: frozenset[str] = frozenset(fields)
        self.render, self.resolve = _compile(parts, self.variable)
        self.render_text = _text_renderer(parts)

    @staticmethod
    def parse(source: str, path: Sequence[str | int] = ()) -> Template:
        """Parses a template; raises SpecError (at ``path``) for a malformed one."""
        return _parse_cached(source, tuple(path))

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


Renderer = Callable[[Sample, Mapping[str, Any]], Any]
TextRenderer = Callable[[str, Mapping[str, Any]], str]


def _compile(parts: tuple[str | Variable, ...], variable: Variable | None) -> tuple[Renderer, Renderer]:
    """Builds (render, resolve) closures specialised for the template's shape."""
    if variable is None:
        if len(parts) == 1:  # constant text
            text = parts[0]
            constant: Renderer = lambda sample, item: text  # noqa: E731
            return constant, constant

        def render_all(sample: Sample, item: Mapping[str, Any]) -> str:
            return "".join(p if isinstance(p, str) else render_value(p.resolve(sample, item)) for p in parts)

        return render_all, render_all
    steps = variable.steps
    if variable.namespace == "sample" and steps == ("output_text",):
        text_of: Renderer = lambda sample, item: sample.output_text  # noqa: E731
        return text_of, text_of
    resolve = _resolver(variable)

    def one_text(sample: Sample, item: Mapping[str, Any]) -> str:
        value = resolve(sample, item)
        return value if value.__class__ is str else render_value(value)

    return one_text, resolve


def _resolver(variable: Variable) -> Renderer:
    """``variable.resolve`` for the common shapes, as one closure without a loop over the steps.

    The fast closures only try the lookup; any failure goes to ``variable.resolve``, which
    raises MissingVariable with the full message (or SampleParseError), so both agree.
    """
    steps = variable.steps
    slow = variable.resolve
    if variable.namespace == "item":
        if len(steps) == 1:
            key = steps[0]

            def item_value(sample: Sample, item: Mapping[str, Any]) -> Any:
                try:
                    return item[key]  # type: ignore[index]
                except (KeyError, IndexError, TypeError):
                    return slow(sample, item)

            return item_value
        return slow
    head = operator.attrgetter(variable.field)
    if len(steps) == 1:
        return lambda sample, item: head(sample)
    if len(steps) == 2:
        step = steps[1]

        def sample_value(sample: Sample, item: Mapping[str, Any]) -> Any:
            try:
                return head(sample)[step]
            except (KeyError, IndexError, TypeError):
                return slow(sample, item)

        return sample_value
    return slow


def _text_renderer(parts: tuple[str | Variable, ...]) -> TextRenderer | None:
    """``render`` from the output text alone, for templates that read no other sample field.

    A batch of plain strings then needs no Sample per output. None when the template reads
    another sample field. Failures (a missing item field) raise; callers grade such a sample
    again through ``render``, which gives the proper error.
    """
    if any(isinstance(p, Variable) and p.namespace == "sample" and p.steps != ("output_text",) for p in parts):
        return None
    if len(parts) != 1:
        pieces: list[str | TextRenderer] = []
        for p in parts:
            piece = p if isinstance(p, str) else _text_renderer((p,))
            assert piece is not None  # every sample variable here is output_text
            pieces.append(piece)

        def render_all(text: str, item: Mapping[str, Any]) -> str:
            return "".join(p if isinstance(p, str) else p(text, item) for p in pieces)

        return render_all
    part = parts[0]
    if isinstance(part, str):
        return lambda text, item: part
    if part.namespace == "sample":
        return lambda text, item: text
    steps = part.steps
    if len(steps) == 1:
        key = steps[0]

        def item_text(text: str, item: Mapping[str, Any]) -> str:
            value = item[key]  # type: ignore[index]
            return value if value.__class__ is str else render_value(value)

        return item_text

    def item_path(text: str, item: Mapping[str, Any]) -> str:
        value: Any = item
        for step in steps:
            value = value[step]
        return value if value.__class__ is str else render_value(value)

    return item_path


@functools.lru_cache(maxsize=4096)
def _parse_cached(source: str, path: tuple[str | int, ...]) -> Template:
    parts: list[str | Variable] = []
    pos = 0
    for match in _TAG.finditer(source):
        if match.start() > pos:
            parts.append(source[pos : match.start()])
        parts.append(_parse_variable(match.group(1), path))
        pos = match.end()
    if pos < len(source) or not parts:
        parts.append(source[pos:])
    tail = parts[-1]
    if isinstance(tail, str) and "{{" in tail:
        raise SpecError(f"unclosed '{{{{' in template {source!r}", path)
    return Template(source, tuple(parts))


def _parse_variable(text: str, path: tuple[str | int, ...]) -> Variable:
    inner = text.strip()
    head = _HEAD.match(text)
    if not inner or head is None:
        raise SpecError(f"empty or malformed template variable {{{{{text}}}}}", path)
    namespace = head.group("ns")
    if namespace not in NAMESPACES:
        hint = did_you_mean(namespace, NAMESPACES)
        raise SpecError(
            f"template {{{{{inner}}}}} names namespace {namespace!r}{hint} (valid: item, sample)",
            path,
        )
    steps: list[Step] = []
    pos = head.end()
    rest = text.rstrip()
    while pos < len(rest):
        step = _STEP.match(rest, pos)
        if step is None:
            raise SpecError(f"cannot parse template {{{{{inner}}}}} at {rest[pos:]!r}", path)
        if step.group("name") is not None:
            steps.append(step.group("name"))
        elif step.group("index") is not None:
            steps.append(int(step.group("index")))
        else:
            steps.append(step.group("key"))
        pos = step.end()
    if namespace == "sample":
        if not steps or not isinstance(steps[0], str):
            raise SpecError(
                f"template {{{{{inner}}}}} must name a sample field ({', '.join(SAMPLE_FIELDS)})", path
            )
        if steps[0] not in SAMPLE_FIELDS:
            hint = did_you_mean(steps[0], SAMPLE_FIELDS)
            raise SpecError(
                f"template {{{{{inner}}}}}: unknown sample field {steps[0]!r}{hint} "
                f"(valid: {', '.join(SAMPLE_FIELDS)})",
                path,
            )
    return Variable(namespace, tuple(steps), inner)
