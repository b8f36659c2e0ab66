"""Reports of a run: ``report.json``, ``report.md``, ``report.html``, and the terminal table."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit._result import EvalResult

if TYPE_CHECKING:
    from evalkit._compare import Comparison

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
COMPARISON_FILES = ("comparison.json", "comparison.md", "comparison.html")
# Metrics shown first in tables, in this order; the rest follow sorted.
HEADLINE = ("mean", "stderr", "ci_low", "ci_high", "n", "pass_rate")
# Groups listed per field in the Markdown and terminal tables (the HTML page plots them all).
MAX_GROUP_ROWS = 30
# Metrics whose cut-offs come from `k`; without one of them, k says nothing about the run.
K_METRICS = ("top@", "pass@", "maj@")


def write_reports(result: EvalResult, path: str | Path, comparison: Comparison | None = None) -> None:
    """Writes ``report.json``, ``report.md`` and ``report.html`` into the directory ``path``.

    Args:
        result: The run.
        path: The run directory (created when missing).
        comparison: A comparison with a baseline run (``compare(baseline, result)``), added to
            each report (``report.json`` key ``comparison``).
    """
    from evalkit._html import eval_page

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    data = result.to_dict()
    text = markdown(result)
    if comparison is not None:
        data["comparison"] = comparison.to_dict()
        text += "\n" + comparison_markdown(comparison)
    (path / REPORT_JSON).write_text(dumps(data), encoding="utf-8")
    (path / REPORT_MD).write_text(text, encoding="utf-8")
    (path / REPORT_HTML).write_text(eval_page(result, comparison), encoding="utf-8")


def write_comparison(comparison: Comparison, path: str | Path) -> None:
    """Writes ``comparison.json``, ``comparison.md`` and ``comparison.html`` into ``path``."""
    from evalkit._html import compare_page

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    as_json, as_md, as_html = COMPARISON_FILES
    (path / as_json).write_text(comparison.to_json() + "\n", encoding="utf-8")
    (path / as_md).write_text(
        f"# Comparison: {comparison.b} vs {comparison.a}\n\n" + comparison_markdown(comparison), encoding="utf-8"
    )
    (path / as_html).write_text(compare_page(comparison), encoding="utf-8")


def comparison_summary(c: Comparison) -> list[str]:
    """The comparison's headline, as lines of text."""
    verdict = "significant" if c.p_value < 0.05 else "not significant"
    lines = [
        f"{c.b} - {c.a} on {c.n} paired items: mean {c.mean_b:.4f} vs {c.mean_a:.4f}, "
        f"difference {c.mean_diff:+.4f} (95% CI {c.ci_low:+.4f} to {c.ci_high:+.4f})",
        f"{c.test} test p = {c.p_value:.4g} ({verdict} at 0.05); sign test p = {c.sign_test_p:.4g}",
        f"wins / losses / ties: {c.wins} / {c.losses} / {c.ties}",
    ]
    if c.only_a or c.only_b:
        lines.append(f"not paired: {c.only_a} items only in {c.a}, {c.only_b} only in {c.b}")
    return lines


def comparison_terminal(c: Comparison) -> str:
    """The comparison for the terminal: summary, metrics side by side, items that changed most."""
    rows = [["metric", c.a, c.b, "diff"]]
    rows += [[m, fmt(v["a"]), fmt(v["b"]), fmt(v["diff"])] for m, v in c.metrics.items()]
    out = [*comparison_summary(c), "", table(rows)]
    if c.changed:
        changed = [["item", "a", "b", "diff"]]
        changed += [[str(x["id"]), f"{x['a']:.3f}", f"{x['b']:.3f}", f"{x['diff']:+.3f}"] for x in c.changed]
        out += ["", "changed most:", table(changed)]
    return "\n".join(out)


def comparison_markdown(c: Comparison) -> str:
    """The comparison as a Markdown section."""
    lines = [f"## Comparison with {c.a}", "", *(f"- {line}" for line in comparison_summary(c)), ""]
    lines += [f"| metric | {c.a} | {c.b} | diff |", "| --- | --- | --- | --- |"]
    lines += [f"| {m} | {fmt(v['a'])} | {fmt(v['b'])} | {fmt(v['diff'])} |" for m, v in c.metrics.items()]
    if c.changed:
        lines += ["", "Items that changed most:", "", "| item | a | b | diff |", "| --- | --- | --- | --- |"]
        lines += [f"| {x['id']} | {x['a']:.3f} | {x['b']:.3f} | {x['diff']:+.3f} |" for x in c.changed]
    return "\n".join(lines) + "\n"


def run_facts(result: EvalResult) -> list[tuple[str, str]]:
    """The header of a report: (label, value) for the data, k where a metric uses it, the seed.

    Rows passed in memory have no file name (the dataset reader calls them ``<items>``), so
    they are shown as "in memory" rather than as that placeholder.
    """
    config = result.config
    facts = []
    for key in ("items", "predictions"):
        source = str(config.get(key, "?"))
        facts.append((key, "in memory" if source.startswith("<") and source.endswith(">") else source))
    if any(m.startswith(K_METRICS) for m in result.metrics):
        facts.append(("k", ", ".join(str(k) for k in config.get("k") or [])))
    facts.append(("bootstrap seed", str(config.get("seed"))))
    return facts


def group_order(groups: Mapping[str, Mapping[str, float]]) -> list[str]:
    """The groups of one breakdown, largest first, then by name: one order for every plot and table."""
    return sorted(groups, key=lambda value: (-groups[value].get("n", 0), value))


def ordered(metrics: Mapping[str, float]) -> list[str]:
    """Metric names, headline first, then top@k by k, then the rest sorted."""
    head = [m for m in HEADLINE if m in metrics]
    tops = sorted((m for m in metrics if m.startswith("top@") and m != "top@max"), key=lambda m: int(m[4:]))
    tops += ["top@max"] if "top@max" in metrics else []
    rest = sorted(m for m in metrics if m not in head and m not in tops)
    return head + tops + rest


def fmt(value: object) -> str:
    """A metric value for tables: ints as ints, floats with 4 decimals, NaN/None as '-'."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def table(rows: list[list[str]]) -> str:
    """A plain aligned text table; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def terminal(result: EvalResult) -> str:
    """The terminal summary: the metrics table, then one table per breakdown field."""
    metrics = result.metrics
    out = [table([["metric", "value"], *([m, fmt(metrics[m])] for m in ordered(metrics))])]
    for name, groups in result.groups.items():
        out.append("")
        out.append(_group_table(name, groups, metrics))
    return "\n".join(out)


def _group_table(name: str, groups: Mapping[str, Mapping[str, float]], overall: Mapping[str, float]) -> str:
    cols = ["n", "mean", "ci_low", "ci_high"] + [m for m in ordered(overall) if m.startswith(("top@", "pass_rate"))]
    rows = [[name, *cols]]
    for value in group_order(groups)[:MAX_GROUP_ROWS]:
        rows.append([value, *(fmt(groups[value].get(c)) for c in cols)])
    text = table(rows)
    if len(groups) > MAX_GROUP_ROWS:
        text += f"\n... {len(groups) - MAX_GROUP_ROWS} more groups in report.json"
    return text


def markdown(result: EvalResult) -> str:
    """The Markdown summary (``report.md``)."""
    config = result.config
    grader = config.get("grader", {})
    lines = [f"# Evaluation: {grader.get('name', '?')} ({grader.get('type', '?')})", ""]
    lines += [f"- {label}: `{value}`" for label, value in run_facts(result)]
    listed = config.get("skipped_lines") or {}
    for source, count in (config.get("skipped") or {}).items():
        if count:
            lines.append(f"- skipped {count} bad line(s) of `{source}` (lines {listed.get(source, [])[:10]}...)")
    for model, usage in (config.get("usage") or {}).items():
        lines.append(
            f"- model `{model}`: {usage.get('calls', 0)} calls ({usage.get('cache_hits', 0)} from the cache), "
            f"{usage.get('total_tokens', 0)} tokens"
        )
    lines += ["", "## Metrics", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {m} | {fmt(result.metrics[m])} |" for m in ordered(result.metrics)]
    for name, groups in result.groups.items():
        cols = ["n", "mean", "ci_low", "ci_high"] + [
            m for m in ordered(result.metrics) if m.startswith(("top@", "pass_rate"))
        ]
        lines += ["", f"## By {name}", "", f"| {name} | " + " | ".join(cols) + " |", "|" + " --- |" * (len(cols) + 1)]
        for value in group_order(groups):
            lines.append(f"| {value} | " + " | ".join(fmt(groups[value].get(c)) for c in cols) + " |")
    lines += ["", "Metric definitions: docs/evalkit.md of rftkit.", ""]
    return "\n".join(lines)


def dumps(data: object) -> str:
    """JSON for report files (callers pass NaN-free dicts: ``to_dict`` maps NaN to null)."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
