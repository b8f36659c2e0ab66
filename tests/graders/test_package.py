"""The public surface of graders, and the cost of importing it."""

from __future__ import annotations

import subprocess
import sys

import graders

HEAVY = ("torch", "trl", "sympy", "openai", "transformers", "nltk", "rouge_score", "rapidfuzz")


def test_all_is_sorted_and_complete() -> None:
    public = sorted(name for name in vars(graders) if not name.startswith("_") and not _is_module(name))
    assert graders.__all__ == sorted(graders.__all__)
    assert graders.__all__ == public
    assert graders.__all__ == [
        "BaseSpec", "ErrorKind", "Grader", "GraderError", "Item", "Kind", "MissingDependencyError", "PythonGrader",
        "Sample", "SandboxLimits", "Score", "ScoreBatch", "ScoreError", "SpecError", "Template", "TemplateGrader",
        "answer_of", "compile_spec", "from_function", "json_schema", "kinds", "load_spec", "parse_spec", "rank_of",
        "register", "sub_errors", "sub_scores", "to_reward", "without_evidence",
    ]  # fmt: skip


def _is_module(name: str) -> bool:
    return type(getattr(graders, name)).__name__ == "module"


def test_import_graders_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, graders; from graders import kinds; kinds(); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == ""
