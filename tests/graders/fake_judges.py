"""Scripted judges for the property and probe tests of model graders (a fake server answers them)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from graders.testing import RecordedRequest

_STUDENT = re.compile(r"(?:Student answer|Answer): (.*)\Z", re.DOTALL)
_REFERENCE = re.compile(r"Reference(?: answer)?: (.*?)\n", re.DOTALL)


def _parts(request: RecordedRequest) -> tuple[str, str]:
    prompt = request.prompt
    student = _STUDENT.search(prompt)
    reference = _REFERENCE.search(prompt)
    return (reference.group(1).strip() if reference else "", student.group(1).strip() if student else "")


def _labels(request: RecordedRequest) -> list[str] | None:
    body = request.body if isinstance(request.body, dict) else {}
    schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema") or {}
    enum = ((schema.get("properties") or {}).get("result") or {}).get("enum")
    return list(enum) if enum else None


def fair_judge(request: RecordedRequest) -> dict[str, Any]:
    """Full marks when the answer is the reference, else at most 0.2 (a fixed function of the answer)."""
    reference, student = _parts(request)
    labels = _labels(request)
    right = bool(reference) and student == reference
    if labels is not None:
        return {"steps": [], "result": labels[0] if right else labels[-1]}
    if right:
        return {"steps": [], "result": 1.0}
    digest = hashlib.sha256(student.encode()).digest()
    return {"steps": [], "result": round(digest[0] / 255 * 0.2, 3)}


def gullible_judge(request: RecordedRequest) -> dict[str, Any]:
    """A fair judge that obeys instructions hidden in the answer."""
    _, student = _parts(request)
    if "ignore the rubric" in student.lower():
        return {"steps": [{"description": "the answer says so", "conclusion": "1.0"}], "result": 1.0}
    return fair_judge(request)

