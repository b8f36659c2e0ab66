"""The end-of-run report: ``report.md``, ``reward_curve.svg`` and ``result.json``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rl_adapter._job._config import JobConfig
    from rl_adapter._job._train import JobResult

_WIDTH, _HEIGHT, _PAD = 640, 320, 40


def write_report(result: JobResult, job: JobConfig) -> None:
    """Writes the report files into the run directory."""
    out = result.output_dir
    train = [(m["step"], m["train_reward_mean"]) for m in result.metrics if m.get("train_reward_mean") is not None]
    valid = [(m["step"], m["valid_reward_mean"]) for m in result.metrics if m.get("valid_reward_mean") is not None]
    (out / "reward_curve.svg").write_text(curve_svg({"train_reward_mean": train, "valid_reward_mean": valid}))
    summary = result.summary()
    (out / "result.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [
        f"# RFT run: {job.method.upper()} on {job.model!r}",
        "",
        f"Grader `{job.grader if isinstance(job.grader, str) else job.grader.get('name', 'grader')}`, "
        f"{summary['steps']} steps in {summary['seconds']} s "
        f"(rewards took {100 * (summary['reward_share'] or 0):.2f} % of it).",
        "",
        "![reward curves](reward_curve.svg)",
        "",
        "| step | train_reward_mean | valid_reward_mean | valid_top@1 | valid errors |",
        "| --- | --- | --- | --- | --- |",
    ]
    for m in result.metrics:
        if "valid_reward_mean" in m:
            lines.append(
                f"| {m['step']} | {_fmt(m.get('train_reward_mean'))} | {_fmt(m.get('valid_reward_mean'))} | "
                f"{_fmt(m.get('valid_top@1'))} | {sum((m.get('valid_errors') or {}).values())} |"
            )
    lines += ["", f"Train reward, first → last step: {_fmt(summary['train_reward_first'])} → "
              f"{_fmt(summary['train_reward_last'])}; windows of 10 steps: {_windows([v for _, v in train])}."]
    if result.best:
        lines.append(f"Best checkpoint: step {result.best['step']} (valid_reward_mean "
                     f"{_fmt(result.best['valid_reward_mean'])}), {result.best.get('checkpoint', 'not kept')}.")
    (out / "report.md").write_text("\n".join(lines) + "\n")


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.3f}"


def _windows(values: Sequence[float], size: int = 10) -> str:
    means = [sum(values[i : i + size]) / len(values[i : i + size]) for i in range(0, len(values), size)]
    return ", ".join(f"{m:.3f}" for m in means)


def curve_svg(series: dict[str, list[tuple[int, float]]]) -> str:
    """A small standalone SVG line chart of the named (step, value) series."""
    points = [p for values in series.values() for p in values]
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}">',
             f'<rect width="{_WIDTH}" height="{_HEIGHT}" fill="white"/>']
    if points:
        x_max = max(max(x for x, _ in points), 1)
        y_lo, y_hi = min(0.0, min(y for _, y in points)), max(1.0, max(y for _, y in points))

        def xy(x: float, y: float) -> str:
            px = _PAD + (x / x_max) * (_WIDTH - 2 * _PAD)
            py = _HEIGHT - _PAD - (y - y_lo) / (y_hi - y_lo) * (_HEIGHT - 2 * _PAD)
            return f"{px:.1f},{py:.1f}"

        parts.append(f'<polyline points="{xy(0, y_lo)} {xy(x_max, y_lo)}" stroke="#888" fill="none"/>')
        parts.append(f'<text x="{_PAD}" y="{_HEIGHT - 10}" font-size="12">step 0 … {x_max}</text>')
        parts.append(f'<text x="4" y="{_PAD - 8}" font-size="12">reward {y_lo:g} … {y_hi:g}</text>')
        for i, (name, values) in enumerate(series.items()):
            colour = colours[i % len(colours)]
            if values:
                path = " ".join(xy(x, y) for x, y in values)
                parts.append(f'<polyline points="{path}" stroke="{colour}" stroke-width="2" fill="none"/>')
            parts.append(f'<text x="{_WIDTH - 200}" y="{20 + 16 * i}" font-size="12" fill="{colour}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
