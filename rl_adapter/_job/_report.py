"""The end-of-run report: ``report.md``, ``reward_curve.svg``, ``result.json`` and ``step_metrics.csv``."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rl_adapter._job._validation import TOP_K

if TYPE_CHECKING:
    from rl_adapter._job._config import JobConfig
    from rl_adapter._job._train import JobResult

CURVE_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
# The hosted job's results file (``result_files``): one row per step.
STEP_METRICS_FILE = "step_metrics.csv"


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
    write_step_metrics(result.metrics, out / STEP_METRICS_FILE)


def write_step_metrics(metrics: Sequence[dict[str, Any]], path: Path) -> None:
    """One CSV row per step: the rewards, the validation's parse-error share, ranks and passes.

    Cells of numbers a step lacks (validation runs every ``eval_interval`` steps) are empty.
    """
    ranked = [key for key in (f"valid_{kind}@{k}" for kind in ("top", "pass") for k in TOP_K)
              if any(key in m for m in metrics)]
    columns = ["step", "train_reward_mean", "valid_reward_mean", "valid_parse_error_mean", *ranked, "loss"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for m in metrics:
            writer.writerow(["" if m.get(column) is None else m[column] for column in columns])


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.3f}"


def _windows(values: Sequence[float], size: int = 10) -> str:
    means = [sum(values[i : i + size]) / len(values[i : i + size]) for i in range(0, len(values), size)]
    return ", ".join(f"{m:.3f}" for m in means)


def curve_svg(series: dict[str, list[tuple[int, float]]]) -> str:
    """A standalone SVG line chart of the named (step, value) series, with ticks and a grid."""
    from evalkit import line_chart

    points = {name: [(float(x), y) for x, y in values] for name, values in series.items()}
    return line_chart(points, colors=CURVE_COLORS, title="reward curves", x_label="step", y_label="reward") + "\n"
