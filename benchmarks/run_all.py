"""Runs every ``benchmarks/bench_*.py`` and writes ``benchmarks/results.json``.

Each benchmark module has ``run() -> list[dict]``; every dict is one entry:
``{"name": str, "figures": {...}, "baseline": str, "ratio": float, "goal": str}``, where
``ratio`` is measured against a baseline run in the same process (or the same command).
A module that sets ``VENV`` (``bench_verl``: ``.venv-trainers``, where verl lives apart from TRL)
runs in that environment's Python as a subprocess, printing its entries as JSON lines.
``python benchmarks/run_all.py [NAME ...]`` runs only the named modules (``bench_graders``) and
writes ``benchmarks/results.partial.json`` instead: the committed ``results.json`` holds one full
run on one machine, never a mix of runs. A full run also rewrites the table of figures in
``docs/benchmarks.md`` (between its markers), so the docs quote the committed run.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = "results.json"
PARTIAL_RESULTS = "results.partial.json"
DOCS_PAGE = Path("docs") / "benchmarks.md"  # relative to the repository root
TABLE_START = "<!-- figures: written by benchmarks/run_all.py from results.json -->"
TABLE_END = "<!-- end of figures -->"


def main(names: list[str], root: Path = HERE) -> int:
    modules = sorted(root.glob("bench_*.py"))
    unknown = sorted(set(names) - {path.stem for path in modules})
    if unknown:
        known = ", ".join(path.stem for path in modules)
        print(f"error: no benchmark named {', '.join(unknown)} (benchmarks: {known})", file=sys.stderr)
        return 2
    results: list[dict] = []
    for path in modules:
        if names and path.stem not in names:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        print(f"== {path.stem}", flush=True)
        start = time.perf_counter()
        venv = getattr(module, "VENV", None)
        entries = _run_in(root.parent / venv, path) if venv and not _inside(root.parent / venv) else module.run()
        for entry in entries:
            entry.setdefault("module", path.stem)
            print(json.dumps(entry), flush=True)
        print(f"   ({time.perf_counter() - start:.1f} s)", flush=True)
        results.extend(entries)
    out = root / (PARTIAL_RESULTS if names else RESULTS)
    payload = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": _cpus()},
        "benchmarks": results,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}" + (f" (a partial run; {RESULTS} holds the last full run)" if names else ""))
    docs = root.parent / DOCS_PAGE
    if not names and docs.is_file():
        docs.write_text(with_table(docs.read_text(encoding="utf-8"), results), encoding="utf-8")
        print(f"wrote the figures in {docs}")
    return 0


def results_table(entries: list[dict]) -> str:
    """The Markdown table of a run's entries: name, ratio, baseline and goal."""
    rows = ["| benchmark | ratio | against | goal |", "| --- | --- | --- | --- |"]
    for entry in entries:
        cells = [entry["name"], f"{entry['ratio']:.4g}", entry.get("baseline", ""), entry.get("goal", "")]
        rows.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


def with_table(page: str, entries: list[dict]) -> str:
    """``page`` with the text between its table markers replaced by ``results_table(entries)``."""
    head, start, rest = page.partition(TABLE_START)
    _, end, tail = rest.partition(TABLE_END)
    if not (start and end):
        raise SystemExit(f"error: {DOCS_PAGE} lacks the markers {TABLE_START} ... {TABLE_END}")
    return f"{head}{TABLE_START}\n{results_table(entries)}\n{TABLE_END}{tail}"


def _inside(venv: Path) -> bool:
    return Path(sys.prefix).resolve() == venv.resolve()


def _run_in(venv: Path, path: Path) -> list[dict]:
    python = venv / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"error: {path.stem} runs in {venv.name}, which is missing (`make bench` builds it)")
    out = subprocess.run([str(python), str(path)], check=True, capture_output=True, text=True).stdout
    entries = [json.loads(line) for line in out.splitlines() if line.startswith('{"name"')]
    if not entries:
        raise SystemExit(f"error: {path.stem} printed no entries in {venv.name}")
    return entries


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
