"""The README and docs/ work when pasted: every snippet runs and prints what the page shows.

A page's ```python blocks and the `$ rftkit ...` lines of its ```console blocks run in order in
one scratch directory (a tutorial page builds on its earlier steps), with `specs/` and
`examples/` linked in. A ```text block right after a python block is what it must print; in
expected output, `...` stands for any text. Model judges answer from the scripted fake server
(real HTTP), which a page's shell lines would start on port 8765.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from graders.testing import FakeOpenAIServer
from rftkit.cli import main

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
README_MAX_LINES = 300
# The address a page's shell lines give the fake server; the test's own server replaces it.
PAGE_SERVER_URL = "http://127.0.0.1:8765/v1"

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w*)\n(?P<body>.*?)^(?P=indent)```$", re.M | re.S)
_LINK = re.compile(r"\]\((?P<target>[^)#\s]+)(?:#[^)]*)?\)")


@dataclass(frozen=True)
class Snippet:
    page: Path
    line: int
    lang: str
    code: str
    expected: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def snippets(page: Path) -> list[Snippet]:
    text = page.read_text(encoding="utf-8")
    blocks = list(_FENCE.finditer(text))
    found = []
    for i, block in enumerate(blocks):
        if block["lang"] not in ("python", "console"):
            continue
        expected = None
        following = blocks[i + 1] if i + 1 < len(blocks) else None
        if (
            block["lang"] == "python"
            and following is not None
            and following["lang"] == "text"
            and not text[block.end() : following.start()].strip()
        ):
            expected = _dedent(following["body"], following["indent"])
        line = text.count("\n", 0, block.start()) + 2
        found.append(Snippet(page, line, block["lang"], _dedent(block["body"], block["indent"]), expected))
    return found


def _dedent(body: str, indent: str) -> str:
    return "".join(line[len(indent) :] if line.startswith(indent) else line for line in body.splitlines(True))


def matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` is ``expected`` with each ``...`` standing for any text."""
    pattern = ".*".join(re.escape(part) for part in expected.strip().split("..."))
    return re.fullmatch(pattern, actual.strip(), re.S) is not None


def _console_steps(code: str) -> list[tuple[str, str]]:
    """(command, expected output) for each ``$ `` line of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
    return [(command, "\n".join(output)) for command, output in steps]


def _workdir(tmp_path: Path) -> Path:
    for name in ("specs", "examples"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    return tmp_path


def _run_python(snippet: Snippet, cwd: Path, server_url: str) -> str:
    env = {**os.environ, "OPENAI_BASE_URL": server_url, "OPENAI_API_KEY": "test-key", "RFTKIT_CACHE": "off"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", snippet.code.replace(PAGE_SERVER_URL, server_url)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{snippet.where} failed:\n{done.stderr[-3000:]}"
    return done.stdout


def _run_console(snippet: Snippet, capsys: pytest.CaptureFixture[str]) -> None:
    for command, expected in _console_steps(snippet.code):
        args = shlex.split(command)
        assert args[0] == "rftkit", f"{snippet.where}: only rftkit commands run here: {command}"
        capsys.readouterr()
        code = main(args[1:])
        out = capsys.readouterr()
        assert code == 0, f"{snippet.where}: `{command}` exited {code}: {out.err}"
        if expected.strip():
            assert matches(expected, out.out), f"{snippet.where}: `{command}` printed:\n{out.out}"


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if snippets(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_page_snippets_run_and_print_what_the_page_shows(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cwd = _workdir(tmp_path)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("RFTKIT_CACHE", "off")
    with FakeOpenAIServer() as server:
        for snippet in snippets(page):
            if snippet.lang == "console":
                _run_console(snippet, capsys)
                continue
            out = _run_python(snippet, cwd, server.url)
            if snippet.expected is not None:
                shown = f"{snippet.where} printed:\n{out}\nthe page shows:\n{snippet.expected}"
                assert matches(snippet.expected, out), shown


def test_no_python_snippet_leaves_its_result_in_a_comment() -> None:
    """A line that is a bare expression with `# result` shows nothing when pasted: print it."""
    bare = re.compile(r"^(?!\s*(?:print|assert|import|from|with|for|if|def|return|#)\b)[^=#]*\)\s+#\s*[\[({'\"\d-]")
    offenders = [
        f"{s.where}: {line.strip()}"
        for page in PAGES
        for s in snippets(page)
        if s.lang == "python"
        for line in s.code.splitlines()
        if bare.match(line)
    ]
    assert not offenders, offenders


def test_readme_is_a_short_guide_and_every_link_resolves() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    for heading in ("## Quick start", "## Install", "## Five minutes"):
        assert heading in readme
    assert readme.index("make demo") < readme.index("source .venv/bin/activate") < readme.index("## Install")
    broken = [
        f"{page.relative_to(ROOT)}: {m['target']}"
        for page in PAGES
        for m in _LINK.finditer(page.read_text(encoding="utf-8"))
        if "://" not in m["target"] and not (page.parent / m["target"]).exists()
    ]
    assert not broken, broken


def test_the_snippet_reader_finds_blocks_and_expected_output(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n```python\nprint(1)\n```\n\n```text\n1\n```\n\n  ```console\n  $ rftkit validate a.json\n"
        "  a.json: ok\n  ```\n\n```python\nx = 2\n```\n\nprose\n\n```text\nnot output\n```\n"
    )
    found = snippets(page)
    assert [(s.lang, s.line, s.expected) for s in found] == [
        ("python", 4, "1\n"),
        ("console", 12, None),
        ("python", 17, None),
    ]
    assert _console_steps(found[1].code) == [("rftkit validate a.json", "a.json: ok")]
    assert matches('{"value": 0.7, ...}', '{"value": 0.7, "passed": null}\n')
    assert not matches('{"value": 0.7, ...}', '{"value": 0.5, "passed": null}')
