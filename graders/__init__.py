"""rftkit graders: a declarative JSON grader DSL compiled into fast scoring functions.

Example:
    >>> from graders import compile_spec
    >>> g = compile_spec({"type": "string_check", "name": "exact", "operation": "eq",
    ...                   "input": "{{sample.output_text}}", "reference": "{{item.answer}}"})
    >>> g.grade("Paris", {"answer": "Paris"}).value
    1.0
"""

from graders._errors import ErrorKind, GraderError, MissingDependencyError, SpecError, did_you_mean, format_path
from graders._function import from_function
from graders._grader import Grader
from graders._hosted import HOSTED_ERROR_FLAGS, HostedFlag, hosted_errors, hosted_flag, hosted_run_response
from graders._jsonl import DataFileError, iter_jsonl
from graders._kinds.python import PythonGrader
from graders._llm.usage import ScoreBatch
from graders._registry import Kind, compile_spec, json_schema, kinds, load_spec, parse_spec, register
from graders._sandbox import SandboxLimits
from graders._spec import BaseSpec
from graders._template import Template
from graders._types import Item, Sample, Score, ScoreError

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
    "register",
]
