"""Importing rl_adapter stays cheap (its public surface: tests/test_public_surface.py)."""

from __future__ import annotations

import subprocess
import sys


def test_import_loads_no_torch_trl_or_web_framework() -> None:
    heavy = ("torch", "trl", "fastapi", "uvicorn", "httpx")
    code = f"import sys, rl_adapter; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
