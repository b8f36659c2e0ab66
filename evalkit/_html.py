"""The self-contained HTML reports: one run (``report.html``) and a comparison (``comparison.html``).

One file with inline CSS and inline SVG plots: it opens offline, can be attached to a ticket, and
needs no JavaScript.
"""

from __future__ import annotations

import json
import math
from html import escape
from typing import TYPE_CHECKING

from evalkit import _svg
from evalkit._metrics import rank_curve
from evalkit._report import fmt, group_order, ordered, run_facts
from evalkit._result import EvalResult

if TYPE_CHECKING:
    from evalkit._compare import Comparison

# One colour per plot kind (a browser test finds each plot by its colour).
DISTRIBUTION_COLOR = "#1f77b4"
TOPK_COLOR = "#d62728"
GROUP_COLOR = "#2ca02c"
COMPARISON_COLOR = "#9467bd"
# The top@k curve runs to the largest requested k, at least this far.
MIN_CURVE_K = 10
# Groups plotted per breakdown field (the largest by item count); report.json has them all.
MAX_GROUP_BARS = 40

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:980px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left}.muted{color:#666;font-size:13px}
.plots{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-size:13px;color:#444}
code{background:#f4f4f4;padding:1px 4px;border-radius:3px}
"""


def eval_page(result: EvalResult, comparison: Comparison | None = None) -> str:
    """The HTML page of one run; with ``comparison``, a section comparing it to a baseline."""
    config = result.config
    grader = config.get("grader", {})
    title = f"Evaluation: {grader.get('name', '?')} ({grader.get('type', '?')})"
    facts = " · ".join(f"{escape(label)} <code>{escape(value)}</code>" for label, value in run_facts(result))
    parts = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">{facts}</p>',
        "<h2>Metrics</h2>",
        _metrics_table(result.metrics),
        "<h2>Plots</h2>",
        '<div class="plots">',
        _figure(
            _svg.histogram(
                [v for v in (i.value for i in result.items) if v is not None],
                color=DISTRIBUTION_COLOR,
                title="score distribution",
                x_label="item score",
            ),
            "Score distribution: items by mean reward.",
            "distribution",
        ),
    ]
    ks = [int(k) for k in config.get("k") or []]
    curve = rank_curve(result.items, max([MIN_CURVE_K, *ks]))
    if curve:
        points = [(float(j + 1), share) for j, share in enumerate(curve)]
        parts.append(
            _figure(
                _svg.line_chart(
                    {"top@k": points}, colors=[TOPK_COLOR], title="top@k curve", x_label="k", y_label="top@k", marks=ks
                ),
                "top@k curve: share of items with the reference within the first k entries.",
                "topk",
            )
        )
    parts.append("</div>")
    for name, groups in result.groups.items():
        parts.append(f"<h2>By {escape(name)}</h2>")
        parts.append(_group_section(name, groups, result.metrics))
    if comparison is not None:
        parts.append(_comparison_section(comparison))
    return _page(title, parts)


def compare_page(comparison: Comparison) -> str:
    """The HTML page of a paired comparison."""
    title = f"Comparison: {comparison.b} vs {comparison.a}"
    return _page(title, [f"<h1>{escape(title)}</h1>", _comparison_section(comparison)])


def _page(title: str, parts: list[str]) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(parts)
        + '\n<p class="muted">Written by rftkit evalkit. Metric definitions: docs/evalkit.md of rftkit.</p>'
        + "\n</body></html>\n"
    )


def _figure(svg: str, caption: str, plot_id: str) -> str:
    return f'<figure id="plot-{plot_id}">{svg}<figcaption>{escape(caption)}</figcaption></figure>'


def _metrics_table(metrics: dict[str, float]) -> str:
    rows = "".join(f"<tr><td>{escape(m)}</td><td>{escape(fmt(metrics[m]))}</td></tr>" for m in ordered(metrics))
    return f"<table><tr><th>metric</th><th>value</th></tr>{rows}</table>"


def _group_section(name: str, groups: dict[str, dict[str, float]], overall: dict[str, float]) -> str:
    order = group_order(groups)
    shown = order[:MAX_GROUP_BARS]
    svg = _svg.bars(
        shown,
        [groups[v].get("mean", math.nan) for v in shown],
        [groups[v].get("ci_low", math.nan) for v in shown],
        [groups[v].get("ci_high", math.nan) for v in shown],
        color=GROUP_COLOR,
        title=f"mean by {name}",
        y_label="mean reward",
    )
    cols = ["n", "mean", "ci_low", "ci_high"] + [m for m in ordered(overall) if m.startswith(("top@", "pass_rate"))]
    head = "".join(f"<th>{escape(c)}</th>" for c in [name, *cols])
    rows = "".join(
        f"<tr><td>{escape(v)}</td>" + "".join(f"<td>{escape(fmt(groups[v].get(c)))}</td>" for c in cols) + "</tr>"
        for v in order
    )
    note = f" (the {MAX_GROUP_BARS} largest groups)" if len(groups) > MAX_GROUP_BARS else ""
    caption = f"Mean reward by {name} with 95% bootstrap CIs{note}."
    return _figure(svg, caption, f"group-{name}") + f"<table><tr>{head}</tr>{rows}</table>"


def _comparison_section(c: Comparison) -> str:
    verdict = "significant" if c.p_value < 0.05 else "not significant"
    summary = (
        f"<p><b>{escape(c.b)}</b> − <b>{escape(c.a)}</b> on {c.n} paired items: mean difference "
        f"{c.mean_diff:+.4f} (95% CI {c.ci_low:+.4f} to {c.ci_high:+.4f}); {escape(c.test)} test "
        f"p = {c.p_value:.4g} ({verdict} at 0.05); wins / losses / ties: {c.wins} / {c.losses} / {c.ties}.</p>"
    )
    if c.only_a or c.only_b:
        unpaired = f"{c.only_a} items only in {escape(c.a)}, {c.only_b} only in {escape(c.b)}"
        summary += f'<p class="muted">Not paired: {unpaired}.</p>'
    plots = (
        '<div class="plots">'
        + _figure(
            _svg.interval(
                "mean difference, 95% CI",
                c.mean_diff,
                c.ci_low,
                c.ci_high,
                color=COMPARISON_COLOR,
                title="mean difference",
            ),
            "Mean difference (b − a) with its paired bootstrap CI; the dashed line is no difference.",
            "comparison-ci",
        )
        + _figure(
            _svg.histogram(
                c.diffs, color=COMPARISON_COLOR, title="per-item differences", x_label="score b − a", symmetric=True
            ),
            "Per-item differences (b − a).",
            "comparison",
        )
        + "</div>"
    )
    rows = "".join(
        f"<tr><td>{escape(m)}</td><td>{escape(fmt(v['a']))}</td><td>{escape(fmt(v['b']))}</td>"
        f"<td>{escape(fmt(v['diff']))}</td></tr>"
        for m, v in c.metrics.items()
    )
    metrics = f"<table><tr><th>metric</th><th>{escape(c.a)}</th><th>{escape(c.b)}</th><th>diff</th></tr>{rows}</table>"
    changed = "".join(
        f"<tr><td>{escape(json.dumps(x['id']))}</td><td>{x['a']:.3f}</td><td>{x['b']:.3f}</td>"
        f"<td>{x['diff']:+.3f}</td></tr>"
        for x in c.changed
    )
    head = "<tr><th>id</th><th>a</th><th>b</th><th>diff</th></tr>"
    most = f"<h3>Items that changed most</h3><table>{head}{changed}</table>"
    return f"<h2>Comparison with {escape(c.a)}</h2>{summary}{plots}{metrics}{most if c.changed else ''}"
