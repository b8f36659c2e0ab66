"""The ``math`` kind: equivalence cases, MATH-500 rewrites, inspect_ai's cases, bad input, threads."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graders import Score, SpecError, compile_spec, load_spec

sys.path.insert(0, str(Path(__file__).parent))
from math_rewrites import equivalents, non_equivalents, other_answer  # noqa: E402

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
CASES = json.loads((HERE / "math_cases.json").read_text())
INSPECT = json.loads((ROOT / "examples" / "data" / "math_pairs" / "inspect_ai_math_cases.json").read_text())
MATH500 = [json.loads(line)["answer"] for line in (ROOT / "examples/data/math500/test.jsonl").read_text().splitlines()]
# Generous "did not hang" bound for one pathological output (typical: well under 50 ms).
HANG_BOUND_S = 10.0


def math_grader(**spec: Any) -> Any:
    return compile_spec({"type": "math", "reference": "{{item.answer}}", **spec})


GRADER = math_grader()


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict[str, Any]) -> None:
    grader = math_grader(**case["spec"]) if "spec" in case else GRADER
    score = grader.grade(case["output"], {"answer": case["reference"]})
    assert score.error is None
    assert score.passed is case["passed"]
    assert score.value == (1.0 if case["passed"] else 0.0)
    assert {"extracted", "reference"} <= set(score.details)
    assert ("hedge" in score.details) is case.get("hedge", False)
    if "method" in case:
        assert case["method"] in score.details["method"]


@pytest.mark.parametrize("case", INSPECT, ids=[f"{i}-{c['source']}" for i, c in enumerate(INSPECT)])
def test_inspect_ai_math_cases(case: dict[str, str]) -> None:
    score = load_spec(ROOT / "specs" / "math.json").grade(case["output"], {"answer": case["target"]})
    assert score.error is None
    assert score.passed is (case["expected"] == "C")


def _math500_pairs() -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    same, different = [], []
    for i, answer in enumerate(MATH500):
        same += [(answer, rule, text) for rule, text in equivalents(answer)]
        different += [(answer, rule, text) for rule, text in non_equivalents(answer, other_answer(MATH500, i))]
    return same, different


def test_math500_rewrites() -> None:
    """All equivalent rewrites of the 500 references pass; no non-equivalent one does."""
    same, different = _math500_pairs()
    assert len(MATH500) == 500 and len(same) > 3000 and len(different) > 2000
    rules = {rule for _, rule, _ in same} | {rule for _, rule, _ in different}
    assert {"decimal", "reordered", "dfrac", "left_right", "slash", "digit", "tuple_swapped", "bracket"} <= rules
    missed = [(a, r, t) for a, r, t in same if GRADER.grade(t, {"answer": a}).passed is not True]
    accepted = [(a, r, t) for a, r, t in different if GRADER.grade(t, {"answer": a}).passed is not False]
    assert missed == []
    assert accepted == []


def test_math500_worked_solutions() -> None:
    """The 500 reference solutions (prose ending in a \\boxed answer) pass against their own
    answer and fail against another problem's."""
    lines = (ROOT / "examples/data/math500/test.jsonl").read_text().splitlines()
    solutions = [json.loads(line)["solution"] for line in lines]
    own = GRADER.grade_batch(solutions, [{"answer": a} for a in MATH500])
    other = GRADER.grade_batch(solutions, [{"answer": other_answer(MATH500, i)} for i in range(500)])
    assert [s.passed for s in own] == [True] * 500
    assert [s.passed for s in other] == [False] * 500


def test_math500_references_are_all_usable() -> None:
    scores = GRADER.grade_batch(MATH500, [{"answer": a} for a in MATH500])
    assert [s.error for s in scores] == [None] * 500
    assert all(s.passed for s in scores)


@pytest.mark.parametrize("reference", ["", "   ", "\\frac{1}{2", "{", "\\boxed{}", "a , , b", "\\notacommand{2}"])
def test_unusable_reference_abstains(reference: str) -> None:
    score = GRADER.grade("1", {"answer": reference})
    assert score.error is not None and score.error.kind == "reference_parse_error"
    assert score.abstained and score.value == 0.0


# Bad input: each case gives a Score (an error or a correct value) in bounded time.
NESTED_FRAC = "\\frac{" * 10_000 + "1" + "}{2}" * 10_000
BAD_INPUTS: dict[str, tuple[str, str, str | None, float]] = {
    "empty": ("", "3", None, 0.0),
    "ten_mb_of_digits": ("7" * 10_000_000, "7", "input_too_long", 0.0),
    "long_digits_under_the_limit": ("\\boxed{" + "7" * 5_000 + "}", "7", "math_limit", 0.0),
    "frac_nested_10000_deep": (NESTED_FRAC, "1", None, 0.0),
    "boxed_frac_nested_10000_deep": ("\\boxed{" + NESTED_FRAC + "}", "1", None, 0.0),
    "sqrt_nested_500_deep": ("\\sqrt{" * 500 + "2" + "}" * 500, "2", "math_limit", 0.0),
    "parens_nested_3000_deep": ("(" * 3000 + "1" + ")" * 3000, "1", "math_limit", 0.0),
    "unbalanced_braces": ("\\boxed{\\frac{1}{2}", "0.5", None, 0.0),
    "unbalanced_closing": ("}}}{", "1", None, 0.0),
    "nan": ("NaN", "1", None, 0.0),
    "inf_plain": ("inf", "\\infty", None, 1.0),
    "power_tower": ("2003^{2002^{2001}}", "2", "math_limit", 0.0),
    "power_tower_symbolic": ("x^{2002^{2001}}", "x", "math_limit", 0.0),
    "huge_factorial": ("99999999999!", "1", "math_limit", 0.0),
    "unicode_minus": ("\\boxed{\u22125}", "-5", None, 1.0),
    "fullwidth_digits": ("\\boxed{\uff11\uff12\uff13}", "123", None, 1.0),
    "open_boxes": ("\\boxed{" * 100_000, "1", None, 0.0),
    "open_math_delimiters": ("\\(" * 100_000 + "\\[" * 100_000, "1", None, 0.0),
    "answer_markers": ("The answer is " * 50_000, "1", None, 0.0),
    "boxes_closed_late": ("\\boxed{" * 1_000 + "2" + "}" * 1_000, "2", None, 1.0),
    "tuples_nested_1500_deep": ("(1," * 1500 + "1" + ")" * 1500, "1", None, 0.0),
    "long_sum": ("1+" * 999 + "1", "1000", "math_limit", 0.0),
    "sum_at_the_token_limit": ("1+" * 299 + "1", "300", None, 1.0),
    "many_signs": ("-" * 599 + "5", "-5", None, 1.0),
    "power_chain": ("x^" * 299 + "1", "1", "math_limit", 0.0),
    "many_elements": ("1," * 999 + "1", "1", None, 0.0),
    "long_unmarked_output": ("no answer here " * 5_000, "1", None, 0.0),
    "long_stated_answer": ("The answer is " + "1+" * 6_000 + "1", "1", "math_limit", 0.0),
    "box_too_large_to_be_an_answer": ("\\boxed{" + "1+" * 6_000 + "1}", "1", None, 0.0),
    "open_matrix_environments": ("\\boxed{" + "\\begin{pmatrix}1" * 600 + "}", "[1, 2]", None, 0.0),
    "long_inequality": ("\\boxed{" + "x " * 4_000 + "< y}", "[1, 2]", None, 0.0),
    "long_or_chain": ("The answer is " + "1 or " * 5_000, "1", None, 0.0),
    "many_hedged_boxes": ("\\boxed{1} or \\boxed{2} " * 5_000, "1", None, 0.0),
    "unclosed_think_trace": ("<think>" + "a" * 900_000, "1", None, 0.0),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_gives_bounded_score(name: str) -> None:
    output, reference, error, value = BAD_INPUTS[name]
    start = time.perf_counter()
    score = GRADER.grade(output, {"answer": reference})
    assert time.perf_counter() - start < HANG_BOUND_S
    assert (score.error.kind if score.error else None) == error
    assert score.value == value


def test_symbolic_step_past_its_deadline_is_math_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    import graders._math.compare as mathcmp

    def stuck(gold: str, pred: str) -> bool:
        time.sleep(1.0)  # stands in for a sympy call that runs away
        return True

    monkeypatch.setattr(mathcmp, "sympy_equal", stuck)
    start = time.perf_counter()
    score = math_grader(timeout_s=0.05).grade("\\lfloor 3.5 \\rfloor", {"answer": "3"})
    assert time.perf_counter() - start < HANG_BOUND_S
    assert score.error is not None and score.error.kind == "math_timeout"
    assert score.details["extracted"] == "\\lfloor 3.5 \\rfloor"


def test_deadline_bounds_the_whole_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    import graders._math.compare as mathcmp

    def slow(gold: str, pred: str) -> bool:
        time.sleep(0.05)  # each call is within the deadline; 400 of them are not
        return False

    monkeypatch.setattr(mathcmp, "sympy_equal", slow)
    output = ", ".join(f"\\lfloor {k} \\rfloor" for k in range(20))
    start = time.perf_counter()
    score = math_grader(timeout_s=0.3).grade(output, {"answer": ", ".join(str(k) for k in range(20))})
    assert time.perf_counter() - start < HANG_BOUND_S
    assert score.error is not None and score.error.kind == "math_timeout"


def test_deadline_works_from_a_worker_thread() -> None:
    from graders._math.deadline import DeadlineExceeded, run_with_deadline

    def slow() -> None:
        time.sleep(1.0)

    def call() -> str:
        try:
            run_with_deadline(slow, timeout=0.05)
        except DeadlineExceeded:
            return "timeout"
        return "finished"

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(lambda _: call(), range(2))) == ["timeout", "timeout"]
    assert run_with_deadline(sum, [1, 2], timeout=HANG_BOUND_S) == 3


def test_bad_spec() -> None:
    with pytest.raises(SpecError) as info:
        math_grader(timeout_s=0)
    assert "timeout_s" in str(info.value)
    with pytest.raises(SpecError) as info:
        math_grader(extract="boxed")
    assert "extract" in str(info.value)


def test_spec_round_trips() -> None:
    spec = {"type": "math", "name": "m", "reference": "{{item.answer}}", "timeout_s": 5.0}
    assert compile_spec(spec).spec.to_json() == spec


def _mixed_pairs() -> list[tuple[str, dict[str, str]]]:
    pairs = [(c["output"], {"answer": c["reference"]}) for c in CASES]
    pairs += [(c["output"], {"answer": c["target"]}) for c in INSPECT]
    return pairs * 3


def _values(scores: list[Score]) -> list[tuple[float, bool | None, str | None]]:
    return [(s.value, s.passed, s.error.kind if s.error else None) for s in scores]


def test_thread_safe() -> None:
    pairs = _mixed_pairs()
    serial = _values([GRADER.grade(o, i) for o, i in pairs])
    with ThreadPoolExecutor(8) as pool:
        threaded = _values(list(pool.map(lambda p: GRADER.grade(*p), pairs)))
    assert threaded == serial
    assert serial.count((1.0, True, None)) > len(pairs) // 2


def test_asyncio() -> None:
    pairs = _mixed_pairs()
    serial = _values([GRADER.grade(o, i) for o, i in pairs])

    async def run() -> list[Score]:
        from_threads = asyncio.gather(*(asyncio.to_thread(GRADER.grade, o, i) for o, i in pairs))
        batch = GRADER.agrade_batch([o for o, _ in pairs], [i for _, i in pairs])
        threaded, batched = await asyncio.gather(from_threads, batch)
        assert _values(batched) == serial
        return list(threaded)

    assert _values(asyncio.run(run())) == serial


def _grade_in_process(pair: tuple[str, dict[str, str]]) -> tuple[float, bool | None]:
    score = compile_spec({"type": "math", "reference": "{{item.answer}}"}).grade(*pair)
    return score.value, score.passed


@pytest.mark.slow
def test_process_pool() -> None:
    pairs = [(c["output"], {"answer": c["target"]}) for c in INSPECT]
    with ProcessPoolExecutor(2) as pool:
        results = list(pool.map(_grade_in_process, pairs))
    assert [passed for _, passed in results] == [c["expected"] == "C" for c in INSPECT]


def test_importing_graders_and_fast_path_do_not_load_sympy() -> None:
    code = (
        "import sys, graders\n"
        "g = graders.compile_spec({'type': 'math', 'reference': '{{item.answer}}'})\n"
        "assert g.grade('\\\\boxed{\\\\frac{1}{2}}', {'answer': '0.5'}).passed\n"
        "assert g.grade('(x+1)^2', {'answer': 'x^2+2x+1'}).passed\n"
        "print(sorted(m for m in ('sympy', 'latex2sympy2_extended', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.integers(-50, 50), st.integers(1, 50), st.integers(-50, 50), st.integers(1, 50))
def test_fractions_equal_exactly_when_cross_products_are(a: int, b: int, c: int, d: int) -> None:
    score = GRADER.grade(f"\\boxed{{\\frac{{{a}}}{{{b}}}}}", {"answer": f"{c}/{d}"})
    assert score.passed is (a * d == c * b)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(st.integers(-99, 99), min_size=2, max_size=8, unique=True), st.randoms(use_true_random=False))
def test_sets_in_any_order_but_complete(values: list[int], rng: Any) -> None:
    shuffled = values[:]
    rng.shuffle(shuffled)
    reference = {"answer": "\\{" + ", ".join(map(str, values)) + "\\}"}
    assert GRADER.grade("\\{" + ",".join(map(str, shuffled)) + "\\}", reference).passed is True
    assert GRADER.grade("\\{" + ",".join(map(str, shuffled[1:])) + "\\}", reference).passed is False
