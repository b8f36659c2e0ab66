"""``python``: user code defining ``grade(sample, item) -> float``, as in the hosted API.

The spec parses and validates here; grading arrives with the sandboxed worker pool.
"""

from __future__ import annotations

from typing import Literal

from graders._errors import SpecError
from graders._grader import Grader
from graders._registry import register
from graders._spec import BaseSpec


class PythonSpec(BaseSpec):
    """User code run in a sandbox: ``source`` defines ``grade(sample, item) -> float``."""

    type: Literal["python"] = "python"
    source: str
    image_tag: str | None = None


@register(PythonSpec, hosted=True)
def compile_python(spec: PythonSpec) -> Grader:
    raise SpecError("grading with 'python' is not available yet in this version of rftkit", ("type",))
