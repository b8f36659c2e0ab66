"""Runs every ``benchmarks/bench_*.py`` and writes ``benchmarks/results.json``.

Each benchmark module has ``run() -> list[dict]``; every dict is one entry:
``{"name": str, "figures": {...}, "baseline": str, "ratio": float, "goal": str}``, where
``ratio`` is measured against a baseline run in the same process (or the same command).
``python benchmarks/run_all.py [NAME ...]`` runs only the named modules (``bench_graders``).
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    results: list[dict] = []
    for path in sorted(HERE.glob("bench_*.py")):
        if names and path.stem not in names:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        print(f"== {path.stem}", flush=True)
        start = time.perf_counter()
        entries = module.run()
        for entry in entries:
            entry.setdefault("module", path.stem)
            print(json.dumps(entry), flush=True)
        print(f"   ({time.perf_counter() - start:.1f} s)", flush=True)
        results.extend(entries)
    out = HERE / "results.json"
    previous = json.loads(out.read_text()) if names and out.exists() else {"benchmarks": []}
    kept = [e for e in previous.get("benchmarks", []) if e.get("module") not in names]
    payload = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": _cpus()},
        "benchmarks": kept + results,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
