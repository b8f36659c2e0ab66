"""docs/api.md: every Python snippet runs and prints the text block after it; the error-flag
table is ``graders.HOSTED_ERROR_FLAGS``; the command line shown parses."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from graders import HOSTED_ERROR_FLAGS
from rl_adapter._api.cli import _parser

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "api.md"
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w*)\n(?P<body>.*?)^(?P=indent)```$", re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[str, str]]:
    """(language, dedented body) of every fenced block, in order."""
    text = DOC.read_text(encoding="utf-8")
    return [(m["lang"], textwrap.dedent(m["body"])) for m in FENCE.finditer(text)]


def snippets() -> list[tuple[str, str]]:
    """(python source, the text block that follows it) pairs."""
    found = blocks()
    return [(body, found[i + 1][1]) for i, (lang, body) in enumerate(found) if lang == "python"]


@pytest.mark.slow
@pytest.mark.parametrize("source, expected", snippets(), ids=lambda value: str(hash(value))[:6])
def test_snippet_prints_what_the_doc_shows(source: str, expected: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", source], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == expected


def test_every_python_snippet_shows_its_output() -> None:
    found = blocks()
    assert len(snippets()) >= 3
    assert all(found[i + 1][0] == "text" for i, (lang, _) in enumerate(found) if lang == "python")


def test_the_flag_table_is_the_one_in_graders() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("<!-- flags:start -->") : text.index("<!-- flags:end -->")]
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| (`\w+`|-) \|$", table, re.MULTILINE)
    assert [(kind, flag, field.strip("`") if field != "-" else None) for kind, flag, field in rows] == [
        (str(kind), flag, detail) for kind, (flag, detail) in HOSTED_ERROR_FLAGS.items()
    ]


def test_the_command_line_shown_parses() -> None:
    (command,) = [body.strip() for lang, body in blocks() if lang == "console"]
    argv = shlex.split(command)
    assert argv[:2] == ["rftkit", "api"]
    args = _parser("api").parse_args(argv[2:])
    assert (args.host, args.port, args.workdir) == ("127.0.0.1", 8000, "rftkit-api")
