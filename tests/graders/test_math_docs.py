"""Every Python snippet of docs/math.md runs and prints the text block shown under it."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "math.md"
_PAIR = re.compile(r"```python\n(.*?)```\n\n```text\n(.*?)```", re.DOTALL)
SNIPPETS = _PAIR.findall(DOC.read_text(encoding="utf-8"))


def test_the_page_has_snippets() -> None:
    assert len(SNIPPETS) >= 8
    assert DOC.read_text(encoding="utf-8").count("```python") == len(SNIPPETS)  # each shows its output


@pytest.mark.parametrize(("code", "shown"), SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_snippet_prints_what_the_page_shows(code: str, shown: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {})  # noqa: S102 - our own documentation
    assert out.getvalue() == shown
