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
