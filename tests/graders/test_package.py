"""The public surface of graders, and the cost of importing it."""

from __future__ import annotations

import subprocess
import sys

import graders

HEAVY = ("torch", "trl", "sympy", "openai", "transformers", "nltk", "rouge_score", "rapidfuzz")


def test_all_is_sorted_and_complete() -> None:
    public = sorted(name for name in dir(graders) if not name.startswith("_") and not _is_module(name))
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


def test_import_graders_loads_neither_the_sandbox_nor_the_model_client() -> None:
    # The core types stand alone; the python kind's sandbox pool and the judges' client load
    # when a spec of theirs is compiled (or their names are first used).
    code = (
        "import sys, graders; "
        "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith(('graders._sandbox', 'graders._llm'))}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == "[]"


def test_lazy_names_load_on_first_use() -> None:
    code = "import graders; print(graders.SandboxLimits().timeout_s > 0, graders.PythonGrader.__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.split() == ["True", "PythonGrader"]
