"""The reports say what the run holds and draw it honestly: header, axes, order, bar positions.

Screenshots of these pages were looked at in headless Chromium; these tests pin what was fixed:
no placeholder in the header, k only where a metric uses it, count axes with little headroom,
bars centred on their ticks, one group order for plots and tables, "changed most" by size of
change then by id, and a reward curve with ticks, a grid and a legend.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evalkit import compare, evaluate, line_chart, write_reports
from evalkit._svg import count_axis, histogram
from graders import Grader, compile_spec
from rl_adapter._job._report import curve_svg

ROOT = Path(__file__).resolve().parents[2]
GENES = ROOT / "examples" / "data" / "gene_ranking"


def _x_of_tick(svg: str, label: str) -> float:
    match = re.search(rf'<text x="([\d.]+)" y="[\d.]+" text-anchor="middle">{re.escape(label)}</text>', svg)
    assert match, f"no x tick {label!r}"
    return float(match.group(1))


def test_header_names_files_says_in_memory_otherwise_and_shows_k_only_for_rank_metrics(
    tmp_path: Path, exact: Grader
) -> None:
    plain = evaluate(
        exact, [{"answer": "a"}, {"answer": "b"}], [{"id": 0, "output_text": "a"}, {"id": 1, "output_text": "b"}]
    )
    write_reports(plain, tmp_path / "plain")
    for name in ("report.md", "report.html"):
        text = (tmp_path / "plain" / name).read_text()
        assert "<items>" not in text and "&lt;items&gt;" not in text and "predictions&gt;" not in text
        assert "in memory" in text
        assert "1, 5, 20" not in text and "[1, 5, 20]" not in text  # string_check has no rank
    ranked = evaluate(
        ROOT / "specs" / "gene_rank.json", GENES / "valid.jsonl", GENES / "baseline_predictions_valid.jsonl", k=(1, 5)
    )
    write_reports(ranked, tmp_path / "ranked")
    html = (tmp_path / "ranked" / "report.html").read_text()
    assert f"<code>{GENES / 'valid.jsonl'}</code>" in html
    assert "k <code>1, 5</code>" in html
    assert "- k: `1, 5`" in (tmp_path / "ranked" / "report.md").read_text()


@pytest.mark.parametrize("peak", [1, 2, 3, 7, 10, 57, 101, 143, 251, 740, 1001, 99_999])
def test_count_axis_reaches_the_tallest_bar_with_little_headroom(peak: int) -> None:
    top, step = count_axis(peak)
    assert peak <= top <= max(peak * 1.5, peak + 1)
    assert top % step == 0 and 1 <= top // step <= 6


def test_every_count_axis_up_to_5000_stays_within_one_and_a_half_times_its_peak() -> None:
    worst = max(count_axis(peak)[0] / peak for peak in range(4, 5000))
    assert worst <= 1.5, worst
    assert count_axis(101)[0] == 120  # 0.1's fixed 5 intervals of a rounded step gave 250


def test_histogram_bars_are_centred_on_their_ticks() -> None:
    svg = histogram([0.0] * 3 + [0.5] * 5 + [1.0] * 7, color="#123456", title="t", x_label="score")
    bars = re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"[^>]*fill="#123456"[^>]*><title>(\d+) items', svg)
    centres = {int(count): float(x) + float(width) / 2 for x, width, count in bars}
    assert set(centres) == {3, 5, 7}
    for count, label in [(3, "0"), (5, "0.5"), (7, "1")]:
        assert centres[count] == pytest.approx(_x_of_tick(svg, label), abs=0.2)
    top_label = re.findall(r'text-anchor="end">(\d+)</text>', svg)[-1]
    assert int(top_label) == count_axis(7)[0]


def test_group_plot_and_tables_share_one_order_largest_first(tmp_path: Path, exact: Grader) -> None:
    sizes = {"alpha": 1, "beta": 3, "gamma": 2, "delta": 3}
    items = [{"id": f"{g}{i}", "answer": "x", "g": g} for g, n in sizes.items() for i in range(n)]
    preds = [{"id": item["id"], "output_text": "x"} for item in items]
    result = evaluate(exact, items, preds, by="g")
    write_reports(result, tmp_path)
    expected = ["beta", "delta", "gamma", "alpha"]
    html = (tmp_path / "report.html").read_text()
    plotted = re.findall(r"<title>(\w+): [\d.]+</title></rect>", html)
    table = re.findall(r"<tr><td>(\w+)</td><td>\d+</td>", html.split("<h2>By g</h2>")[1])
    assert plotted == expected and table == expected
    md_rows = re.findall(r"^\| (\w+) \| \d+ \|", (tmp_path / "report.md").read_text().split("## By g")[1], re.M)
    assert md_rows == expected


def test_changed_most_is_by_size_of_change_then_by_id_in_natural_order() -> None:
    ids = [str(i) for i in range(25)]
    grader = compile_spec({"type": "text_similarity", "evaluation_metric": "fuzzy_match",
                           "input": "{{sample.output_text}}", "reference": "{{item.answer}}"})  # fmt: skip
    items_b = [{"id": i, "answer": "xxxx"} for i in ids]
    a = evaluate(grader, items_b, [{"id": i, "output_text": "zzzz"} for i in ids])
    outputs = {i: "xxxx" if int(i) % 2 else "xxzz" for i in ids}  # odd ids gain 1.0, even ids 0.5
    outputs["24"] = "zzzz"  # no change
    b = evaluate(grader, items_b, [{"id": i, "output_text": outputs[i]} for i in ids])
    changed = compare(a, b).changed
    assert [x["id"] for x in changed] == ["1", "3", "5", "7", "9", "11", "13", "15", "17", "19"]
    assert all(x["diff"] == pytest.approx(1.0) for x in changed)


def test_reward_curve_has_ticks_a_grid_and_a_legend_and_is_the_shared_line_chart() -> None:
    series = {"train_reward_mean": [(s, s / 60) for s in range(61)], "valid_reward_mean": [(0, 0.0), (60, 0.7)]}
    svg = curve_svg(series)
    assert svg.count("<polyline") == 2
    for tick in ("0", "10", "30", "60"):
        _x_of_tick(svg, tick)
    assert [t for t in re.findall(r'text-anchor="end">([\d.]+)</text>', svg)] == [
        "0.00",
        "0.20",
        "0.40",
        "0.60",
        "0.80",
        "1.00",
    ]
    assert svg.count('stroke="#e3e3e3"') == 6  # a grid line per y tick
    assert ">train_reward_mean</text>" in svg and ">valid_reward_mean</text>" in svg
    assert svg.strip() == line_chart(
        {k: [(float(x), y) for x, y in v] for k, v in series.items()},
        colors=("#1f77b4", "#d62728", "#2ca02c", "#9467bd"),
        title="reward curves",
        x_label="step",
        y_label="reward",
    )
