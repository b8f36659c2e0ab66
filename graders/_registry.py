"""The registry of grader kinds: ``type`` -> (spec model, compiler), and spec parsing.

Each kind is one module in ``graders._kinds`` that calls ``register`` on import; the registry
imports every module there the first time it is used, so adding a kind touches no other file.
A spec model may refer to "any grader spec" (``multi``'s children) with the forward reference
``"GraderSpec"``; the registry resolves it to the discriminated union of all kinds.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import json
import pkgutil
import re
import types
import typing
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, Union

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from graders._errors import SpecError, did_you_mean
from graders._spec import BaseSpec

if TYPE_CHECKING:
    from graders._grader import Grader
    from graders._sandbox import SandboxLimits

S = TypeVar("S", bound=BaseSpec)
Compiler = Callable[[Any], "Grader"]


@dataclass(frozen=True)
class Kind:
    """A registered grader kind."""

    type: str
    spec_model: builtins.type[BaseSpec]
    compile: Compiler
    hosted: bool
    """True for the kinds of the hosted OpenAI graders API (same fields, same scores)."""


_KINDS: dict[str, Kind] = {}
_loaded = False


@dataclass(frozen=True)
class CompileOptions:
    """Options of one ``compile_spec`` call, visible to every kind it compiles (nested too)."""

    trusted: bool = False
    """Run ``python`` sources in-process instead of in the sandbox."""
    sandbox_limits: SandboxLimits | None = None
    """Limits for every ``python`` grader compiled, over their specs' own (None: the specs')."""
    instances: dict[int, Grader] = field(default_factory=dict)
    """Already compiled graders given as child values, by ``id`` of their spec."""


_OPTIONS: ContextVar[CompileOptions | None] = ContextVar("rftkit_compile_options", default=None)


def compile_options() -> CompileOptions:
    """The options of the ``compile_spec`` call in progress (defaults outside one)."""
    return _OPTIONS.get() or CompileOptions()


def register(spec_model: type[S], *, hosted: bool = False) -> Callable[[Callable[[S], Grader]], Callable[[S], Grader]]:
    """Registers a kind: decorate the function that compiles its spec into a Grader.

    Args:
        spec_model: The kind's pydantic spec model; its ``type`` field is a one-value Literal.
        hosted: Whether the kind belongs to the hosted OpenAI graders API.

    Example:
        >>> @register(MySpec)                                  # doctest: +SKIP
        ... def compile_mine(spec: MySpec) -> Grader: ...
    """
    kind_type = spec_model.model_fields["type"].default
    if not isinstance(kind_type, str):
        raise TypeError(f"{spec_model.__name__}.type needs a default naming the kind")

    def decorator(compile_fn: Callable[[S], Grader]) -> Callable[[S], Grader]:
        _KINDS[kind_type] = Kind(kind_type, spec_model, compile_fn, hosted)
        _spec_adapter.cache_clear()
        return compile_fn

    return decorator


def kinds() -> Mapping[str, Kind]:
    """Every registered kind by ``type``."""
    _load_kinds()
    return dict(_KINDS)


def _load_kinds() -> None:
    global _loaded
    if _loaded:
        return
    from graders import _kinds

    for module in pkgutil.iter_modules(_kinds.__path__):
        importlib.import_module(f"graders._kinds.{module.name}")
    _loaded = True


@functools.cache
def _spec_adapter() -> TypeAdapter[BaseSpec]:
    _load_kinds()
    models = tuple(kind.spec_model for kind in sorted(_KINDS.values(), key=lambda k: k.type))
    union: Any = Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007 - built at run time
    for model in models:
        model.model_rebuild(_types_namespace={"GraderSpec": union})
    return TypeAdapter(union)


def parse_spec(data: Mapping[str, Any] | BaseSpec) -> BaseSpec:
    """Validates spec JSON into its spec model.

    Raises:
        SpecError: the spec is invalid; the message names the JSON path of the first problem.
    """
    if isinstance(data, BaseSpec):
        return data
    data = _from_sdk(data)
    if not isinstance(data, Mapping):
        raise SpecError(f"a grader spec must be a JSON object, not {type(data).__name__}")
    adapter = _spec_adapter()
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise _translate(exc, data) from None


def compile_spec(
    spec: Mapping[str, Any] | BaseSpec | Grader, *, trusted: bool = False, sandbox_limits: SandboxLimits | None = None
) -> Grader:
    """Validates a spec and compiles it into a Grader.

    Args:
        spec: Spec JSON (a dict, as written for the hosted graders API or one of rftkit's own
            kinds, ``null`` standing for an unset optional field), a grader object of the
            ``openai`` SDK (``openai.types.graders.PythonGrader(...)``), or an already
            validated spec model. Where a child spec goes (a value of
            ``multi``'s ``graders``), an already compiled Grader may stand instead, such as
            ``graders.from_function(fn)``; it is used as it is.
        trusted: Run ``python`` graders' source in this process, without the sandbox. Only for
            code you wrote or reviewed: it can do anything this process can.
        sandbox_limits: Limits for every ``python`` grader in the spec (nested ones too),
            taking precedence over the specs' ``timeout_s`` / ``memory_mb`` and the hosted
            defaults (120 s, 2048 MB). An RL loop wants a shorter timeout than the hosted one.

    Returns:
        The compiled Grader. Compilation parses every template, formula and regex, so grading
        does no parsing.

    Raises:
        SpecError: the spec is invalid; ``str(error)`` names the JSON path.

    Example:
        >>> g = compile_spec({"type": "string_check", "name": "exact", "operation": "eq",
        ...                   "input": "{{sample.output_text}}", "reference": "{{item.answer}}"})
        >>> g.grade("Paris", {"answer": "Paris"}).value
        1.0
    """
    from graders._grader import Grader

    if isinstance(spec, Grader):
        return spec
    options = CompileOptions(trusted=trusted, sandbox_limits=sandbox_limits)
    token = _OPTIONS.set(options)
    try:
        parsed = parse_spec(_bind_instances(spec, options.instances, Grader))
        return kinds()[parsed.type].compile(parsed)
    finally:
        _OPTIONS.reset(token)


def _from_sdk(data: Any) -> Any:
    """A grader object of the ``openai`` SDK (``openai.types.graders``, any pydantic model that
    is not an rftkit spec) as the JSON it stands for; anything else as it is."""
    if isinstance(data, BaseModel) and not isinstance(data, BaseSpec):
        return data.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return data


def _bind_instances(data: Any, instances: dict[int, Grader], grader_type: type[Grader]) -> Any:
    """Replaces compiled Graders in spec JSON by their spec models, remembering which is which.

    pydantic keeps a model instance as it is when it validates one, so ``compile_child``
    recognises the spec by identity and hands back the Grader instead of compiling it.
    """
    if isinstance(data, grader_type):
        instances[id(data.spec)] = data
        return data.spec
    data = _from_sdk(data)
    if isinstance(data, Mapping):
        return {key: _bind_instances(value, instances, grader_type) for key, value in data.items()}
    if isinstance(data, list):
        return [_bind_instances(value, instances, grader_type) for value in data]
    return data


def compile_child(spec: BaseSpec, *path: str | int) -> Grader:
    """Compiles a nested spec, putting ``path`` in front of the path of any SpecError."""
    bound = compile_options().instances.get(id(spec))
    if bound is not None:
        return bound
    try:
        return _KINDS[spec.type].compile(spec)
    except SpecError as exc:
        raise exc.within(*path) from None


def load_spec(path: str | Path) -> Grader:
    """Reads a spec from a JSON file and compiles it.

    Raises:
        SpecError: the file is not JSON or the spec is invalid (the message names the file).
        OSError: the file cannot be read.
    """
    raw = Path(path).read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError included
        raise SpecError(f"{path} is not valid JSON: {exc}") from None
    try:
        return compile_spec(data)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc.reason}", exc.path, exc.hint) from None


def json_schema() -> dict[str, Any]:
    """The JSON Schema of every grader kind (a discriminated union on ``type``)."""
    schema = _spec_adapter().json_schema(ref_template="#/$defs/{model}")
    schema["title"] = "rftkit grader spec"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


# --- pydantic errors -> one clear line with a JSON path ---------------------------------------

_QUOTED = re.compile(r"'([^']*)'")
_PRIORITY = {"union_tag_invalid": 0, "union_tag_not_found": 0, "extra_forbidden": 1}


def _translate(exc: ValidationError, data: Mapping[str, Any]) -> SpecError:
    errors = exc.errors(include_url=False)
    # Prefer errors about the grader type: they explain every other error at that node.
    # and a misspelt field explains the "missing" error of the field it was meant to be.
    errors.sort(key=lambda e: _rank(e, data))
    first = errors[0]
    path, node = _walk(first["loc"], data)
    err_type, ctx = first["type"], first.get("ctx") or {}
    n_more = len(errors) - 1
    more = f" (and {n_more} more problem{'s' if n_more > 1 else ''})" if n_more else ""
    known = ", ".join(sorted(kinds()))
    if err_type == "union_tag_invalid":
        tag = str(ctx.get("tag"))
        hint = f"{did_you_mean(tag, kinds())} (known: {known})"
        return SpecError(f"unknown grader type {tag!r}", (*path, "type"), hint + more)
    if err_type == "union_tag_not_found":
        return SpecError("missing grader type", (*path, "type"), f" (known: {known})" + more)
    if err_type == "missing":
        return SpecError("missing required field", path, more)
    if err_type == "extra_forbidden":
        field = str(path[-1]) if path else ""
        valid = _fields_at(data, path[:-1])
        hint = did_you_mean(field, valid) + (f" (valid: {', '.join(valid)})" if valid else "")
        return SpecError(f"unknown field {field!r}", path, hint + more)
    if err_type == "literal_error":
        expected = _QUOTED.findall(str(ctx.get("expected", "")))
        got = first.get("input")
        hint = did_you_mean(str(got), expected) if isinstance(got, str) else ""
        return SpecError(f"invalid value {got!r}", path, f"; expected {ctx.get('expected')}{hint}{more}")
    message = str(first["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return SpecError(message[:1].lower() + message[1:], path, more)


def _rank(error: Any, data: Mapping[str, Any]) -> int:
    if error["type"] == "extra_forbidden":
        path, _ = _walk(error["loc"], data)
        if path and str(path[-1]) in _fields_at(data, path[:-1]):
            return len(_PRIORITY) + 1  # a field of the union member the input meant, unknown to another member
    return _PRIORITY.get(error["type"], len(_PRIORITY))


def _walk(loc: tuple[Any, ...], data: Any) -> tuple[tuple[str | int, ...], Any]:
    """Maps a pydantic error location onto the JSON path of the input, dropping union tags.

    Returns the path and the object that holds the last path element.
    """
    path: list[str | int] = []
    node: Any = data
    holder: Any = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, Mapping) and part in node:
            holder, node = node, node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            holder, node = node, node[part]
            path.append(part)
        elif isinstance(node, Mapping) and part == node.get("type"):
            continue  # the discriminated union's tag
        elif last and isinstance(part, str) and isinstance(node, Mapping):
            holder, node = node, None  # a missing field
            path.append(part)
        # else: a union tag or member name that is not part of the input; skip it
    return tuple(path), holder


def _fields_at(data: Any, path: tuple[str | int, ...]) -> list[str]:
    """The fields of the model that reads the object at ``path`` of the input (empty if unknown).

    The innermost spec on the way (a mapping whose ``type`` is a kind) gives the model; from there
    the path follows the field annotations, so nested option models (``fields.name``,
    ``sampling_params``, ``input[0].content``) list their own fields.
    """
    node: Any = data
    model: Any = _kind_model(node)
    for part in path:
        annotation = _step(model, part)
        if isinstance(node, Mapping):
            node = node.get(part)
        else:
            node = node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None
        model = _kind_model(node) or _pick(annotation, node)
    return sorted(model.model_fields) if _is_model(model) else []


def _kind_model(node: Any) -> type[BaseSpec] | None:
    kind = _KINDS.get(str(node.get("type"))) if isinstance(node, Mapping) else None
    return kind.spec_model if kind is not None else None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _step(annotation: Any, part: str | int) -> Any:
    """The annotation that reads ``part`` of a value of type ``annotation`` (None if unknown)."""
    if _is_model(annotation):
        field = annotation.model_fields.get(str(part))
        return field.annotation if field is not None else None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (list, tuple) and isinstance(part, int) and args:
        return args[0]
    if origin is dict and isinstance(part, str) and len(args) == 2:
        return args[1]
    return None


def _pick(annotation: Any, node: Any) -> Any:
    """The member of ``annotation`` (a type or a union) that reads ``node``, e.g. the model of a content part."""
    union = isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is Union
    members = typing.get_args(annotation) if union else (annotation,)
    if isinstance(node, list):
        return next((m for m in members if typing.get_origin(m) in (list, tuple)), None)
    if not isinstance(node, Mapping):
        return None
    models = [m for m in members if _is_model(m)]
    if models:  # the model whose ``type`` literal names the node's type, else the one sharing most keys
        return max(models, key=lambda m: (node.get("type") in _literal_values(m), len(node.keys() & m.model_fields)))
    return next((m for m in members if typing.get_origin(m) is dict), None)


def _literal_values(model: type[BaseModel]) -> tuple[Any, ...]:
    field = model.model_fields.get("type")
    return typing.get_args(field.annotation) if field is not None else ()
