"""Trusted mode: a Python function as a grader, run in this process without the sandbox."""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from typing import Any

from graders._errors import SpecError
from graders._kinds.python import PythonGrader, PythonSpec, check_source

_NO_SOURCE = """\
# An in-process function ({qualname}) given to graders.from_function; its source was not
# available, so this spec cannot run on its own.
def grade(sample, item):
    raise RuntimeError("{qualname} is an in-process grader with no JSON form")
"""


def from_function(fn: Callable[[dict[str, Any], Any], Any], *, name: str | None = None) -> PythonGrader:
    """A grader that calls ``fn(sample, item)`` in this process: trusted code, no sandbox.

    The contract is the ``python`` kind's: ``sample`` is the hosted dict (``output_text``,
    ``output_json``, ...), ``item`` the dataset row, and anything but a finite float (an
    exception included) scores 0 with ``python_grader_runtime_error``. There is no time or
    memory limit: use it for code you wrote. The result composes like any grader; where a
    child spec goes (a value of ``multi``'s ``graders``), pass the grader itself to
    ``compile_spec``.

    The grader's ``spec`` is a ``python`` spec holding ``fn``'s source when it can be read
    (so ``spec.to_json()`` can be sent to the hosted API), or a stub that says it has none.

    Args:
        fn: A function of two positional arguments returning a float.
        name: The grader's name (default: ``fn.__name__``).

    Example:
        >>> def exact(sample, item):
        ...     return float(sample["output_text"] == item["answer"])
        >>> from_function(exact).grade("Paris", {"answer": "Paris"}).value
        1.0
    """
    if not callable(fn):
        raise TypeError(f"from_function needs a callable, not {type(fn).__name__}")
    qualname = str(getattr(fn, "__qualname__", repr(fn)))
    name = name or str(getattr(fn, "__name__", "function"))
    spec = PythonSpec(type="python", name=name, source=_source_of(fn, qualname))
    return PythonGrader(spec, fn=fn)


def _source_of(fn: Callable[..., Any], qualname: str) -> str:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        fn_name = fn.__name__
        if fn_name != "grade":
            source += f"\n\ndef grade(sample, item):\n    return {fn_name}(sample, item)\n"
        check_source(source)
        compile(source, "<grader>", "exec")
        ok = fn_name.isidentifier() and source.lstrip().startswith("def ")
    except (OSError, TypeError, AttributeError, SpecError, SyntaxError):
        ok = False
    return source if ok else _NO_SOURCE.format(qualname=qualname)
