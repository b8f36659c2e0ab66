"""The cost of importing graders (its public surface: tests/test_public_surface.py)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "trl", "sympy", "openai", "transformers", "nltk", "rouge_score", "rapidfuzz")


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
