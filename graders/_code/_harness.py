"""The program that runs inside a sandbox worker for ``code_tests``: its text is the pool's source.

It is loaded once per worker and ``grade(sample, item)`` runs one program per call, where
``item`` is ``{"code", "tests", "stdin", "normalize"}`` (``sample`` is unused). The last line it
prints to the worker's capture is a JSON report; the host trusts only the report and the value.

How the tests are kept out of the solution's reach, in one process:

* the solution runs in its own namespace with its own copy of the builtins; the tests run in a
  second namespace, built after the solution finished, holding a copy of the solution's names
  and a fresh copy of the builtins taken when the worker started. A solution that defines
  ``check``, rebinds ``AssertionError``, ``print`` or ``isinstance`` changes nothing the tests
  see (the tests' own ``def check`` comes after the copied names);
* ``sys.exit`` (SystemExit) in the solution or the tests is a failure, never a pass; ``os._exit``
  kills the worker, which the host reports as a runtime error;
* the verdict is a value the harness returns after the tests ran, with a report printed
  after them: a program that stops early produces neither.

A solution that deliberately walks the interpreter (frames, ``gc``) to reach this module can
still tamper with it; the worker's process isolation, not this module, bounds what that gains.
After every call the builtins module and the ``sys`` attributes a program may rebind are put
back, so one program cannot change what the next one in the same worker sees through them.
"""

import builtins
import hashlib
import io
import json
import sys
import traceback
from types import CodeType
from typing import Any

_BUILTINS = dict(builtins.__dict__)
_SYS_NAMES = ("exit", "stdin", "stdout", "stderr", "settrace", "setprofile", "excepthook", "displayhook")
_SYS = {name: getattr(sys, name) for name in _SYS_NAMES}
_RECURSION_LIMIT = sys.getrecursionlimit()
# What the report may carry of a program's output and of a traceback.
_MAX_SHOWN = 500


def _tail(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else "..." + text[-_MAX_SHOWN:]


def _head(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."


def _error(exc: BaseException, filename: str) -> tuple[str, str]:
    """The exception as one message line and the traceback entries of ``filename`` only."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return _head("".join(traceback.format_exception_only(type(exc), exc)).strip()), _tail("".join(lines))


def _normalize(text: str, mode: str) -> str:
    if mode == "exact":
        return text
    return "\n".join(line.rstrip() for line in text.rstrip().split("\n"))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _run(
    code: CodeType, filename: str, namespace: dict[str, Any], exit_ok: bool = False
) -> tuple[str, str, str] | None:
    """Runs code; returns None, or (verdict, message, traceback) for what it raised."""
    try:
        exec(code, namespace)  # noqa: S102 - running the program is this module's job
    except SystemExit as exc:
        if exit_ok and exc.code in (None, 0):
            return None  # a stdin/stdout program may end with sys.exit()
        return ("runtime_error", f"the program called sys.exit({exc.code!r}) in {filename}", "")
    except AssertionError as exc:
        message, tb = _error(exc, filename)
        return ("failed", message, tb)
    except Exception as exc:  # GradeTimeout (a BaseException) must reach the worker
        message, tb = _error(exc, filename)
        return ("runtime_error", message, tb)
    return None


def _program(item: dict[str, Any]) -> tuple[CodeType | None, dict[str, Any] | None]:
    try:
        return compile(item["code"], "<solution>", "exec"), None
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        return None, {"verdict": "syntax_error", "message": f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}{where}"}


def _grade(item: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    program, report = _program(item)
    if program is None:
        return 0.0, report or {}
    stdin = item.get("stdin")
    namespace = {"__name__": "__main__", "__builtins__": dict(_BUILTINS)}
    buffer = io.BytesIO()
    sys.stdin = io.TextIOWrapper(io.BytesIO((stdin or "").encode("utf-8")), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(buffer, encoding="utf-8", errors="replace", write_through=True)
    sys.stderr = io.StringIO()
    failure = _run(program, "<solution>", namespace, exit_ok=stdin is not None)
    sys.stdout.flush()
    printed = buffer.getvalue().decode("utf-8", "replace")
    if failure is not None:
        verdict, message, tb = failure
        return 0.0, {"verdict": verdict, "message": message, "traceback": tb, "stdout": _head(printed)}
    if stdin is not None:
        normal = _normalize(printed, item.get("normalize", "rstrip"))
        return 0.0, {"verdict": "ran", "stdout": _head(printed), "sha256": _digest(normal)}
    try:
        tests = compile(item["tests"], "<tests>", "exec")
    except (SyntaxError, ValueError) as exc:
        return 0.0, {"verdict": "tests_invalid", "message": f"the tests do not compile: {exc}"}
    _restore_builtins()  # the tests, and this module's own except clauses, see the originals
    names = {k: v for k, v in namespace.items() if k != "__builtins__"}
    test_namespace = dict(names, __name__="__main__", __builtins__=dict(_BUILTINS))
    failure = _run(tests, "<tests>", test_namespace)
    if failure is not None:
        verdict, message, tb = failure
        return 0.0, {"verdict": verdict, "message": message, "traceback": tb, "stdout": _head(printed)}
    return 1.0, {"verdict": "passed"}


def _restore_builtins() -> None:
    builtins.__dict__.clear()
    builtins.__dict__.update(_BUILTINS)


def _restore() -> None:
    _restore_builtins()
    for name, value in _SYS.items():
        setattr(sys, name, value)
    sys.settrace(None)
    sys.setprofile(None)
    sys.setrecursionlimit(_RECURSION_LIMIT)


def grade(sample: Any, item: dict[str, Any]) -> float:
    out = sys.stdout
    try:
        value, report = _grade(item)
    finally:
        _restore()
    out.write("\n" + json.dumps(report, ensure_ascii=False) + "\n")
    return value
