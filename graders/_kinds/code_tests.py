"""``code_tests``: the output's program runs in the sandbox against tests or stdin/stdout cases."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from graders._code import HARNESS_SOURCE, CaseResult, extract_code, read_report
from graders._errors import ErrorKind
from graders._grader import Grader, SampleLike, error_score
from graders._registry import register
from graders._sandbox import SandboxLimits, SandboxPool
from graders._spec import BaseSpec
from graders._template import Template
from graders._types import Sample, Score, clip
from graders._usage import ScoreBatch

# Outputs past this are not run: a program this long is a runaway generation, not a solution.
MAX_OUTPUT_CHARS = 100_000
# More cases than this per item is a data error (each case is one sandbox call).
MAX_CASES = 1_000
# Verdicts listed one by one in ``details``; past this only the counts are kept.
MAX_LISTED_CASES = 100

EXAMPLE: dict[str, Any] = {
    "type": "code_tests",
    "name": "humaneval",
    "input": "{{sample.output_text}}",
    "tests": "{{item.test}}\ncheck({{item.entry_point}})",
    "timeout_s": 10,
}


class CodeTestsSpec(BaseSpec):
    """Runs the program in the output against ``tests`` or ``cases``, in the python sandbox.

    The program is the last fenced code block of ``input`` (any language tag, or none; a
    block cut off by the length limit runs to the end), else the whole text; ``details.extracted``
    says which. ``prefix`` (a template) is put before it, for imports the prompt promised.

    * ``tests``: code run after the program, as one program; the score is 1 when it raises
      nothing, 0 when an ``assert`` fails. The tests run in their own namespace, which holds a
      copy of the program's names and untouched builtins: a program that defines ``check``,
      rebinds ``AssertionError`` or calls ``sys.exit(0)`` does not pass.
    * ``cases``: a template giving a list (or a JSON string of one) of
      ``{"input": stdin, "output": expected stdout}``; the program runs once per case. Output
      is compared with trailing whitespace removed from every line and at the end
      (``compare: "exact"`` compares it as it is). ``scoring: "fraction"`` scores the share of
      cases passed, ``"all"`` 1 only when every case passes. A program may end with
      ``sys.exit()`` (status 0) in this mode.

    Errors: ``code_not_found`` (no code), ``code_syntax_error``, ``code_runtime_error`` (raised
    other than an assert, exited early, or killed its worker), ``code_timeout`` (past
    ``timeout_s``, which applies to every case); for ``cases`` these are set only when no case
    passed, and each case's verdict is in ``details.cases``. Unusable tests or cases (not a
    list, a test that does not compile) give ``reference_parse_error``. Every case runs as its own
    sandbox call, spread over the pool with the rest of the batch.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    type: Literal["code_tests"] = "code_tests"
    input: str = "{{sample.output_text}}"
    language: Literal["python"] = "python"
    prefix: str | None = None
    tests: str | None = None
    cases: str | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=600)
    scoring: Literal["fraction", "all"] = "fraction"
    compare: Literal["rstrip", "exact"] = "rstrip"

    @model_validator(mode="after")
    def _one_of_tests_or_cases(self) -> CodeTestsSpec:
        if (self.tests is None) == (self.cases is None):
            raise ValueError("give exactly one of 'tests' (assert-style code) or 'cases' (stdin/stdout pairs)")
        return self


class CodeTestsGrader(Grader):
    """A ``code_tests`` grader; ``workers`` sets the sandbox pool size (default one per core, at most 8)."""

    def __init__(self, spec: CodeTestsSpec, *, workers: int | None = None) -> None:
        self.input = Template.parse(spec.input, ("input",))
        self.prefix = Template.parse(spec.prefix, ("prefix",)) if spec.prefix is not None else None
        self.tests = Template.parse(spec.tests, ("tests",)) if spec.tests is not None else None
        self.cases = Template.parse(spec.cases, ("cases",)) if spec.cases is not None else None
        templates = [t for t in (self.input, self.prefix, self.tests, self.cases) if t is not None]
        super().__init__(spec, frozenset().union(*(t.item_fields for t in templates)))
        self.timeout_s = spec.timeout_s
        self.scoring = spec.scoring
        self.compare = spec.compare
        self.workers = workers
        self.pool = SandboxPool(HARNESS_SOURCE, SandboxLimits(timeout_s=spec.timeout_s), workers)

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        return self._grade_all([sample], [item])[0]

    def grade_batch(
        self, samples: Sequence[SampleLike], items: Sequence[Mapping[str, Any]] | None = None
    ) -> ScoreBatch:
        """Grades samples[i] against items[i]; every program and case spread over the pool."""
        if items is None:
            items = [{}] * len(samples)
        elif len(items) != len(samples):
            raise ValueError(f"grade_batch got {len(samples)} samples but {len(items)} items")
        try:
            return ScoreBatch(self._grade_all([Sample.of(s) for s in samples], items))
        except Exception:  # noqa: BLE001 - one bad sample (not a Sample) must not fail the others
            return ScoreBatch(self.grade(s, i) for s, i in zip(samples, items, strict=True))

    async def agrade_batch(
        self, samples: Sequence[SampleLike], items: Sequence[Mapping[str, Any]] | None = None
    ) -> ScoreBatch:
        """Async ``grade_batch``: waits for the pool on a thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.grade_batch, samples, items)

    async def _agrade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        return await asyncio.to_thread(self._grade, sample, item)

    def _grade_all(self, samples: Sequence[Sample], items: Sequence[Mapping[str, Any]]) -> list[Score]:
        plans: list[_Plan | Score] = []
        payloads: list[bytes] = []
        for sample, item in zip(samples, items, strict=True):
            try:
                plan = self._plan(sample, item)
            except Exception as exc:  # noqa: BLE001 - a missing variable or bad item is this sample's error
                plans.append(error_score(exc))
                continue
            if isinstance(plan, Score):
                plans.append(plan)
                continue
            plan.first = len(payloads)
            payloads.extend(plan.payloads)
            plans.append(plan)
        results = [read_report(r) for r in self.pool.run(payloads)] if payloads else []
        return [p if isinstance(p, Score) else p.score(results[p.first : p.first + len(p.payloads)]) for p in plans]

    def _plan(self, sample: Sample, item: Mapping[str, Any]) -> _Plan | Score:
        text = self.input.render(sample, item)
        if len(text) > MAX_OUTPUT_CHARS:
            return Score.failure(
                ErrorKind.INPUT_TOO_LONG, f"the output is {len(text)} characters, over {MAX_OUTPUT_CHARS}"
            )
        found = extract_code(text)
        details: dict[str, Any] = {"extracted": found.how, "code": clip(found.code)}
        if not found.code.strip():
            return Score.failure(ErrorKind.CODE_NOT_FOUND, "the output holds no code", **details)
        code = found.code if self.prefix is None else self.prefix.render(sample, item) + "\n" + found.code
        if self.tests is not None:
            request = {"code": code, "tests": self.tests.render(sample, item)}
            return _Plan(self, details, [_encode(request)], [])
        assert self.cases is not None
        cases = _read_cases(self.cases.resolve(sample, item))
        if isinstance(cases, str):
            return Score.failure(ErrorKind.REFERENCE_PARSE_ERROR, cases, **details)
        payloads = [_encode({"code": code, "stdin": stdin, "normalize": self.compare}) for stdin, _ in cases]
        return _Plan(self, details, payloads, cases)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickles as its spec (a trainer may ship it to other processes); each copy starts its own workers.
        return (_rebuild, (self.spec, self.workers))

    def close(self) -> None:
        self.pool.close()


def _rebuild(spec: CodeTestsSpec, workers: int | None) -> CodeTestsGrader:
    return CodeTestsGrader(spec, workers=workers)


def _encode(request: dict[str, Any]) -> bytes:
    return json.dumps([{}, request]).encode()


def _read_cases(value: Any) -> list[tuple[str, str]] | str:
    """The cases as (stdin, expected stdout) pairs, or why they are unusable."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return "cases is not a JSON list"
    if not isinstance(value, list) or not value:
        return "cases must be a non-empty list of {'input': ..., 'output': ...}"
    if len(value) > MAX_CASES:
        return f"{len(value)} cases, over the {MAX_CASES} limit"
    out = []
    for i, case in enumerate(value):
        if (
            not isinstance(case, Mapping)
            or not isinstance(case.get("input"), str)
            or not isinstance(case.get("output"), str)
        ):
            return f"case {i} is not {{'input': str, 'output': str}}"
        out.append((case["input"], case["output"]))
    return out


_FAILURE_KINDS = {
    "syntax_error": ErrorKind.CODE_SYNTAX_ERROR,
    "runtime_error": ErrorKind.CODE_RUNTIME_ERROR,
    "timeout": ErrorKind.CODE_TIMEOUT,
    "tests_invalid": ErrorKind.REFERENCE_PARSE_ERROR,
}


class _Plan:
    """The sandbox calls of one sample, and how their results become its Score."""

    def __init__(
        self, grader: CodeTestsGrader, details: dict[str, Any], payloads: list[bytes], cases: list[tuple[str, str]]
    ) -> None:
        self.grader = grader
        self.details = details
        self.payloads = payloads
        self.cases = cases
        self.first = 0

    def score(self, results: list[CaseResult]) -> Score:
        if not self.cases:
            return self._tests_score(results[0])
        return self._cases_score(results)

    def _tests_score(self, result: CaseResult) -> Score:
        details = dict(self.details, verdict=result.verdict)
        details.update({k: clip(v) for k, v in (("exception", result.message), ("traceback", result.traceback)) if v})
        if result.verdict == "passed":
            return Score(1.0, True, details)
        if result.verdict == "failed":
            return Score(0.0, False, details)
        return Score.failure(
            _FAILURE_KINDS.get(result.verdict, ErrorKind.CODE_RUNTIME_ERROR), result.message, **details
        )

    def _cases_score(self, results: list[CaseResult]) -> Score:
        verdicts = []
        first_failure: dict[str, Any] | None = None
        for i, ((stdin, expected), result) in enumerate(zip(self.cases, results, strict=True)):
            verdict = result.verdict
            if verdict == "ran":
                verdict = "passed" if result.sha256 == _digest(expected, self.grader.compare) else "wrong_output"
            verdicts.append(verdict)
            if verdict != "passed" and first_failure is None:
                first_failure = {"case": i, "verdict": verdict, "input": clip(stdin), "expected": clip(expected)}
                first_failure.update(
                    {k: clip(v) for k, v in (("got", result.stdout), ("exception", result.message)) if v}
                )
        passed = verdicts.count("passed")
        total = len(verdicts)
        value = passed / total if self.grader.scoring == "fraction" else float(passed == total)
        details = dict(self.details, passed=passed, total=total)
        details["cases"] = verdicts[:MAX_LISTED_CASES]
        if first_failure is not None:
            details["first_failure"] = first_failure
            kind = _FAILURE_KINDS.get(first_failure["verdict"])
            if kind is not None and (passed == 0 or first_failure["verdict"] == "syntax_error"):
                return Score.failure(kind, first_failure.get("exception", ""), **details)
        return Score(value, passed == total, details)


def _digest(expected: str, compare: str) -> str:
    # The same normalisation as the harness's; only digests cross from the sandbox.
    if compare != "exact":
        expected = "\n".join(line.rstrip() for line in expected.rstrip().split("\n"))
    return hashlib.sha256(expected.encode("utf-8", "surrogatepass")).hexdigest()


@register(CodeTestsSpec)
def compile_code_tests(spec: CodeTestsSpec) -> Grader:
    return CodeTestsGrader(spec)
