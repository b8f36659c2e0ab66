"""``python``: user code defining ``grade(sample, item) -> float``, as in the hosted API.

The source is checked at compile time without running it (size, syntax, a top-level
``grade`` taking two positional arguments) and runs at grade time in the sandboxed worker
pool of ``graders._sandbox`` (see its docstring for the threat model), or in this process
when the caller compiles with ``compile_spec(spec, trusted=True)``.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import json
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import ConfigDict, Field

from graders._errors import SpecError
from graders._grader import Grader, SampleLike, error_score
from graders._registry import compile_options, parse_spec, register
from graders._sandbox import (
    MAX_SOURCE_BYTES,
    SandboxLimits,
    SandboxPool,
    call_grade,
    load_source,
    runtime_error,
    to_score,
)
from graders._spec import BaseSpec
from graders._types import Sample, Score, ScoreError
from graders._usage import ScoreBatch

_EMPTY: Mapping[str, Any] = {}

# The hosted sandbox's limits per call: 2 minutes of wall time, 2 GB of memory. A spec compiled
# without other limits gets these, so a hosted grader that is slow but within them scores the
# same here. In an RL loop, pass tighter ones (``compile_spec(spec, sandbox_limits=...)``).
HOSTED_LIMITS = SandboxLimits(timeout_s=120.0, memory_mb=2048)
# The hosted sandbox images rftkit knows; their packages are in the ``hosted-python`` extra.
KNOWN_IMAGE_TAGS = frozenset({"2025-05-08", "alpha"})
# The hosted image's packages by import name -> distribution name (pyproject's hosted-python).
HOSTED_PACKAGES: Mapping[str, str] = {
    "numpy": "numpy",
    "scipy": "scipy",
    "sympy": "sympy",
    "pandas": "pandas",
    "rapidfuzz": "rapidfuzz",
    "sklearn": "scikit-learn",
    "rouge_score": "rouge-score",
    "deepdiff": "deepdiff",
    "jsonschema": "jsonschema",
    "pydantic": "pydantic",
    "yaml": "pyyaml",
    "nltk": "nltk",
    "sqlparse": "sqlparse",
    "rdkit": "rdkit",
    "skbio": "scikit-bio",
    "ast_grep_py": "ast-grep-py",
}
_NO_MODULE = re.compile(r"No module named '([\w.]+)'")

EXAMPLE: dict[str, Any] = {
    "type": "python",
    "name": "exact_answer",
    "image_tag": "2025-05-08",
    "source": "def grade(sample, item) -> float:\n"
    "    return 1.0 if sample['output_text'].strip() == item['answer'] else 0.0\n",
}


class PythonSpec(BaseSpec):
    """User code: ``source`` defines ``grade(sample, item) -> float``.

    ``sample`` is the hosted shape (``output_text``, ``output_json`` (None when the output is
    not JSON), ``output_tools``, ``choices``, ``output_audio``); ``item`` is the dataset row.
    Anything but a finite float (an exception, ``None``, a string, NaN, infinity, a number
    beyond 1e9 in size) scores 0 with ``python_grader_runtime_error`` and the traceback in
    ``details``. ``image_tag`` is accepted for compatibility and recorded in ``details``: the
    code runs against the packages installed here, whatever the tag says; the extra
    ``rftkit[hosted-python]`` installs those of the hosted image ``2025-05-08``. A tag rftkit
    does not know gives a warning. ``pass_threshold`` (from the hosted evals API) sets the
    Score's ``passed`` to ``value >= pass_threshold``; the value is unchanged.

    Each call may take ``timeout_s`` seconds and ``memory_mb`` of memory (default: the hosted
    limits, 120 s and 2048 MB). Limits given when compiling take precedence over both:
    ``compile_spec(spec, sandbox_limits=...)`` or ``PythonGrader(spec, limits=...)``.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    type: Literal["python"] = "python"
    source: str
    image_tag: str | None = None
    pass_threshold: float | None = None
    timeout_s: float | None = Field(
        default=None, gt=0, description="rftkit: wall-clock seconds per call (default 120, the hosted limit)."
    )
    memory_mb: int | None = Field(
        default=None, ge=64, description="rftkit: memory per sandbox worker in MB (default 2048, the hosted limit)."
    )


def spec_limits(spec: PythonSpec) -> SandboxLimits:
    """The sandbox limits a spec asks for: the hosted ones, with its own overrides."""
    changes: dict[str, Any] = {}
    if spec.timeout_s is not None:
        changes["timeout_s"] = spec.timeout_s
    if spec.memory_mb is not None:
        changes["memory_mb"] = spec.memory_mb
    return dataclasses.replace(HOSTED_LIMITS, **changes)


def check_source(source: str) -> None:
    """Validates python grader source without running it.

    Raises:
        SpecError: too large, not valid Python, or no top-level ``grade`` function that
            takes two positional arguments (path ``source``).
    """
    size = len(source.encode("utf-8"))
    if size > MAX_SOURCE_BYTES:
        raise SpecError(f"source is {size} bytes, over the {MAX_SOURCE_BYTES}-byte limit", ("source",))
    try:
        tree = ast.parse(source, "<grader>")
        compile(tree, "<grader>", "exec")
    except SyntaxError as exc:
        raise SpecError(f"source is not valid Python: {exc.msg} (line {exc.lineno})", ("source",)) from None
    except ValueError as exc:  # e.g. a NUL byte
        raise SpecError(f"source is not valid Python: {exc}", ("source",)) from None
    functions = [
        node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "grade"
    ]
    if not functions:
        raise SpecError(
            "source defines no top-level function 'grade'",
            ("source",),
            "; define def grade(sample, item) -> float",
        )
    fn = functions[-1]
    if isinstance(fn, ast.AsyncFunctionDef):
        raise SpecError("grade must be a plain function, not async", ("source",))
    if not _takes_two_positional(fn.args):
        raise SpecError(
            "grade must take two positional arguments", ("source",), "; define def grade(sample, item) -> float"
        )


def _takes_two_positional(args: ast.arguments) -> bool:
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    kw_required = any(default is None for default in args.kw_defaults)
    return not kw_required and required <= 2 and (positional >= 2 or args.vararg is not None)


class PythonGrader(Grader[PythonSpec]):
    """A ``python`` grader with its sandbox settings: the way to choose limits and pool size.

    ``compile_spec`` builds one with the defaults; build one yourself to change them, and use
    it like any grader (also as a child of a ``multi`` spec given to ``compile_spec``).
    Workers start on the first grade; ``close()`` (or the ``with`` block) stops them.

    Args:
        spec: A ``python`` spec, as JSON or a validated model.
        sandbox: Run ``spec.source`` in sandboxed worker processes (the default). False runs it
            in this process: only for code you wrote or reviewed.
        fn: Grade with this in-process function instead of ``spec.source`` (``from_function``).
        limits: Sandbox limits (default: the spec's ``timeout_s`` / ``memory_mb``, else the
            hosted limits, ``HOSTED_LIMITS``).
        workers: Sandbox pool size (default: one per core, at most 8).

    Raises:
        SpecError: the spec is invalid (not a ``python`` spec, or bad ``source``).

    Example:
        >>> spec = {"type": "python", "source": "def grade(sample, item):\n    return 1.0\n"}
        >>> with PythonGrader(spec, limits=SandboxLimits(timeout_s=30), workers=2) as g:
        ...     g.grade("anything").value
        1.0
    """

    def __init__(
        self,
        spec: PythonSpec | Mapping[str, Any],
        *,
        sandbox: bool = True,
        fn: Callable[[Any, Any], Any] | None = None,
        limits: SandboxLimits | None = None,
        workers: int | None = None,
    ) -> None:
        spec = _python_spec(spec)
        if fn is None:
            check_source(spec.source)
        super().__init__(spec)
        self._extra = {"image_tag": spec.image_tag} if spec.image_tag is not None else {}
        if spec.image_tag is not None and spec.image_tag not in KNOWN_IMAGE_TAGS:
            warnings.warn(
                f"python grader {spec.name!r}: unknown image_tag {spec.image_tag!r} (known: "
                f"{', '.join(sorted(KNOWN_IMAGE_TAGS))}); its code runs against the packages installed here",
                UserWarning,
                stacklevel=2,
            )
        self.pass_threshold = spec.pass_threshold
        if limits is None:
            limits = spec_limits(spec)
        self.pool: SandboxPool | None = None
        self.fn = fn
        self._args = (spec, sandbox, fn, limits, workers)
        self._load_error: dict[str, Any] | None = None
        if fn is None and sandbox:
            self.pool = SandboxPool(spec.source, limits, workers)  # workers start on first grade
        elif fn is None:
            try:
                self.fn = load_source(spec.source)
            except Exception as exc:  # noqa: BLE001 - graded like the sandbox does: every call fails
                self._load_error = runtime_error(exc, exc.__traceback__)

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        return self._grade_all([sample], [item])[0]

    def grade_batch(
        self, samples: Sequence[SampleLike], items: Sequence[Mapping[str, Any]] | None = None
    ) -> ScoreBatch:
        """Grades samples[i] against items[i]; in the sandbox, spread over the worker pool."""
        if items is None:
            items = [_EMPTY] * len(samples)
        elif len(items) != len(samples):
            raise ValueError(f"grade_batch got {len(samples)} samples but {len(items)} items")
        try:
            return ScoreBatch(self._grade_all([Sample.of(s) for s in samples], items))
        except Exception:  # noqa: BLE001 - one bad sample (not a Sample) must not fail the others
            return ScoreBatch(self.grade(s, i) for s, i in zip(samples, items, strict=True))

    def _grade_all(self, samples: Sequence[Sample], items: Sequence[Mapping[str, Any]]) -> list[Score]:
        scores = self._run_all(samples, items)
        threshold = self.pass_threshold
        for score in scores:
            if score.error is not None:
                score.error = _with_install_hint(score.error)
            elif threshold is not None:
                score.passed = score.value >= threshold
        return scores

    def _run_all(self, samples: Sequence[Sample], items: Sequence[Mapping[str, Any]]) -> list[Score]:
        if self._load_error is not None:
            return [to_score(self._load_error, self._extra) for _ in samples]
        if self.pool is None:
            assert self.fn is not None
            fn, extra = self.fn, self._extra
            pairs = zip(samples, items, strict=True)
            return [to_score(call_grade(fn, s.to_dict(), _plain(i)), extra) for s, i in pairs]
        scores: list[Score | None] = []
        payloads: list[bytes] = []
        for sample, item in zip(samples, items, strict=True):
            try:
                payloads.append(json.dumps([sample.to_dict(), item], default=_jsonable).encode())
                scores.append(None)
            except (TypeError, ValueError) as exc:
                scores.append(error_score(exc))
        results = iter(self.pool.run(payloads))
        return [to_score(next(results), self._extra) if s is None else s for s in scores]

    async def _agrade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        return await asyncio.to_thread(self._grade, sample, item)

    async def agrade_batch(
        self, samples: Sequence[SampleLike], items: Sequence[Mapping[str, Any]] | None = None
    ) -> ScoreBatch:
        """Async ``grade_batch``: waits for the pool on a thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.grade_batch, samples, items)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickles as its settings (a trainer may ship it to other processes); each copy starts
        # its own workers. ``from_function`` graders pickle when their function does.
        spec, sandbox, fn, limits, workers = self._args
        return (_rebuild, (spec, sandbox, fn, limits, workers))

    @property
    def isolation(self) -> dict[str, bool]:
        """What confined the last started worker (empty before the first grade, or trusted)."""
        return dict(self.pool.isolation) if self.pool is not None else {}

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def _with_install_hint(error: ScoreError) -> ScoreError:
    """The error of a grader that imports a package missing here, saying how to install it."""
    found = _NO_MODULE.search(error.message)
    if found is None:
        return error
    module = found.group(1).split(".")[0]
    package = HOSTED_PACKAGES.get(module)
    if package is None:
        hint = f"{module} is not installed here, and was not in the hosted sandbox image either"
    else:
        hint = f"{package} was in the hosted sandbox image; install it with: pip install 'rftkit[hosted-python]'"
    return ScoreError(error.kind, f"{error.message} ({hint})")


def _rebuild(
    spec: PythonSpec,
    sandbox: bool,
    fn: Callable[[Any, Any], Any] | None,
    limits: SandboxLimits | None,
    workers: int | None,
) -> PythonGrader:
    return PythonGrader(spec, sandbox=sandbox, fn=fn, limits=limits, workers=workers)


def _python_spec(spec: PythonSpec | Mapping[str, Any]) -> PythonSpec:
    parsed = parse_spec(spec)
    if not isinstance(parsed, PythonSpec):
        raise SpecError(f"PythonGrader needs a 'python' spec, not {parsed.type!r}", ("type",))
    return parsed


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"a {type(value).__name__} in the item cannot be sent to the sandbox (not JSON)")


def _plain(item: Mapping[str, Any]) -> Any:
    return item if isinstance(item, dict) else dict(item)


@register(PythonSpec, hosted=True)
def compile_python(spec: PythonSpec) -> Grader:
    options = compile_options()
    return PythonGrader(spec, sandbox=not options.trusted, limits=options.sandbox_limits)
