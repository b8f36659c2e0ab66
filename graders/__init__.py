"""rftkit graders: a declarative JSON grader DSL compiled into fast scoring functions.

Example:
    >>> from graders import compile_spec
    >>> g = compile_spec({"type": "string_check", "name": "exact", "operation": "eq",
    ...                   "input": "{{sample.output_text}}", "reference": "{{item.answer}}"})
    >>> g.grade("Paris", {"answer": "Paris"}).value
    1.0
"""

import importlib
import typing

from graders._details import answer_of, rank_of, sub_errors, sub_scores, to_reward, without_evidence
from graders._errors import ErrorKind, GraderError, MissingDependencyError, SpecError, did_you_mean, format_path
from graders._grader import Grader, TemplateGrader
from graders._hosted import HOSTED_ERROR_FLAGS, HostedFlag, hosted_errors, hosted_flag, hosted_run_response
from graders._jsonl import DataFileError, iter_jsonl
from graders._registry import Kind, compile_spec, json_schema, kinds, load_spec, parse_spec, register
from graders._spec import BaseSpec
from graders._template import Template
from graders._types import Item, Sample, Score, ScoreError
from graders._usage import ScoreBatch

if typing.TYPE_CHECKING:
    from graders._function import from_function
    from graders._kinds.python import PythonGrader
    from graders._sandbox import SandboxLimits

# The python kind's names bring the sandbox pool (worker processes, pipes, isolation) with them:
# imported on first use, so `import graders` stays cheap for every other kind.
_LAZY = {
    "PythonGrader": "graders._kinds.python",
    "SandboxLimits": "graders._sandbox",
    "from_function": "graders._function",
}

__all__ = [
    "BaseSpec",
    "DataFileError",
    "ErrorKind",
    "Grader",
    "GraderError",
    "HOSTED_ERROR_FLAGS",
    "HostedFlag",
    "Item",
    "Kind",
    "MissingDependencyError",
    "PythonGrader",
    "Sample",
    "SandboxLimits",
    "Score",
    "ScoreBatch",
    "ScoreError",
    "SpecError",
    "Template",
    "TemplateGrader",
    "answer_of",
    "compile_spec",
    "did_you_mean",
    "format_path",
    "from_function",
    "hosted_errors",
    "hosted_flag",
    "hosted_run_response",
    "iter_jsonl",
    "json_schema",
    "kinds",
    "load_spec",
    "parse_spec",
    "rank_of",
    "register",
    "sub_errors",
    "sub_scores",
    "to_reward",
    "without_evidence",
]


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'graders' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
