"""The host side of the harness: its source for the pool, and its reports read back as verdicts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graders._sandbox import SERVER_ERROR, TIMEOUT_ERROR

HARNESS_SOURCE = Path(__file__).with_name("_harness.py").read_text(encoding="utf-8")
# The verdicts a report may carry; anything else is a worker that did not run the harness.
_VERDICTS = frozenset({"passed", "failed", "ran", "runtime_error", "syntax_error", "tests_invalid"})


@dataclass(frozen=True)
class CaseResult:
    """What one run of a program gave.

    Attributes:
        verdict: ``passed`` / ``failed`` (tests), ``ran`` (a stdin case, output not yet
            compared), ``runtime_error``, ``syntax_error``, ``timeout``, ``tests_invalid``.
        message: The exception line, or why the run failed.
        stdout: The head of what the program printed.
        sha256: Digest of the whole normalised output of a stdin case (compared on the host, so
            the program never sees the expected output).
        traceback: The program's own traceback entries.
    """

    verdict: str
    message: str = ""
    stdout: str = ""
    sha256: str = ""
    traceback: str = ""


def read_report(result: dict[str, Any]) -> CaseResult:
    """A worker's result (untrusted JSON) for one harness call as a CaseResult."""
    error = result.get("error")
    if error == TIMEOUT_ERROR:
        return CaseResult("timeout", "the program ran past its time limit")
    if error == SERVER_ERROR:
        why = str(result.get("message", ""))[:300]
        return CaseResult(
            "runtime_error", f"the program ended its worker (os._exit, a crash or the memory limit): {why}"
        )
    if error is not None:  # the harness itself raised: a BaseException the program threw past it
        return CaseResult("runtime_error", str(result.get("message", ""))[:500])
    report = _last_json_line(result.get("stdout"))
    verdict = report.get("verdict")
    if verdict not in _VERDICTS or (verdict == "passed") != (result.get("value") == 1.0):
        return CaseResult("runtime_error", "the program's run gave no verdict")
    fields = {k: str(report.get(k, "")) for k in ("message", "stdout", "sha256", "traceback")}
    return CaseResult(str(verdict), **fields)


def _last_json_line(text: Any) -> dict[str, Any]:
    if not isinstance(text, str):
        return {}
    for line in reversed(text.splitlines()):
        if line.strip():
            try:
                report = json.loads(line)
            except ValueError:
                return {}
            return report if isinstance(report, dict) else {}
    return {}
