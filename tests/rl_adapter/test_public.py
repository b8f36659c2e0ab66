"""The public surface of rl_adapter, and that importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys
import types

import rl_adapter


def test_all_is_the_sorted_public_names() -> None:
    public = {name for name, value in vars(rl_adapter).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)}
    assert rl_adapter.__all__ == sorted(rl_adapter.__all__)
    assert set(rl_adapter.__all__) == public


def test_import_loads_no_torch_trl_or_web_framework() -> None:
    heavy = ("torch", "trl", "fastapi", "uvicorn", "httpx")
    code = f"import sys, rl_adapter; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
