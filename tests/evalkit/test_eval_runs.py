"""Run directories: reports, resume after a crash, shards and merge, async graders, the public API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from evalkit import RunDirError, evaluate, load_run, merge_runs, shard_of
from graders import Grader, Sample, Score, compile_spec


class Crash(BaseException):
    """Stands in for a kill: not an Exception, so the grader does not turn it into a Score."""


class Counting(Grader):
    """Scores 1 when output == item answer; counts calls; crashes at ``crash_at`` when set."""

    def __init__(self, crash_at: str | None = None) -> None:
        super().__init__(compile_spec(_EXACT).spec)
        self.crash_at = crash_at
        self.calls = 0

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        if item.get("id") == self.crash_at:
            raise Crash
        self.calls += 1
        return Score(float(sample.output_text == item["answer"]))


ROOT = Path(__file__).resolve().parents[2]
GENES = ROOT / "examples" / "data" / "gene_ranking"
_EXACT = {
    "type": "string_check",
    "name": "exact",
    "operation": "eq",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
}


def _data(tmp_path: Path, write_jsonl: Any, n: int) -> tuple[Path, Path]:
    items = write_jsonl(tmp_path / "items.jsonl", [{"id": f"q{i}", "answer": str(i % 7)} for i in range(n)])
    preds = write_jsonl(tmp_path / "preds.jsonl", [{"id": f"q{i}", "output_text": str(i % 5)} for i in range(n)])
    return items, preds


def test_run_dir_holds_reports_with_stable_keys(tmp_path: Path, write_jsonl: Any) -> None:
    items, preds = _data(tmp_path, write_jsonl, 40)
    result = evaluate(_EXACT, items, preds, out=tmp_path / "run")
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == [
        "report.html",
        "report.json",
        "report.md",
        "run.json",
        "scores.jsonl",
    ]
    report = json.loads((run / "report.json").read_text())
    assert report["metrics"]["mean"] == result.metrics["mean"]
    assert {"mean", "stderr", "ci_low", "ci_high", "n", "pass_rate", "error_rate"} <= set(report["metrics"])
    lines = [json.loads(line) for line in (run / "scores.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == [f"q{i}" for i in range(40)]
    assert lines[0]["scores"][0]["value"] == 1.0 and lines[0]["value"] == 1.0
    assert "| mean |" in (run / "report.md").read_text()
    assert load_run(run).metrics == result.metrics


def test_crashed_run_resumes_without_regrading(tmp_path: Path, write_jsonl: Any) -> None:
    items, preds = _data(tmp_path, write_jsonl, 1300)
    run = tmp_path / "run"
    crashing = Counting(crash_at="q900")
    with pytest.raises(Crash):
        evaluate(crashing, items, preds, out=run)
    saved = (run / "scores.jsonl").read_text().splitlines()
    assert 0 < len(saved) < 1300
    with (run / "scores.jsonl").open("a") as handle:
        handle.write('{"id": "q9999", "sco')  # torn last line, as a kill mid-write leaves it
    resumed = Counting()
    result = evaluate(resumed, items, preds, out=run)
    assert resumed.calls == 1300 - len(saved)
    full = evaluate(Counting(), items, preds)
    assert result.metrics == full.metrics
    assert sorted(i.id for i in result.items) == sorted(i.id for i in full.items)


N = 1300  # past the first batch of 512, so a crash at q900 leaves lines behind


def test_a_second_evaluation_into_a_held_directory_exits_2_naming_the_holder(
    tmp_path: Path, write_jsonl: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from rftkit.cli import main

    items, preds = _data(tmp_path, write_jsonl, 20)
    run = tmp_path / "run"
    spec = tmp_path / "exact.json"
    spec.write_text(json.dumps(_EXACT))
    argv = ["eval", "--grader", str(spec), "--data", str(items), "--predictions", str(preds), "--out", str(run)]
    argv.append("--quiet")
    holder_code = "import sys\nfrom evalkit._rundir import RunDir\nwith RunDir(sys.argv[1]).locked():\n" \
                  "    print('held', flush=True)\n    sys.stdin.read()\n"  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", holder_code, str(run)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"in use by another evaluation (pid {holder.pid})" in err and err.count("\n") == 1
        assert not (run / "scores.jsonl").exists()
        sampling = [*argv[:5], "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--out", str(run), "--quiet"]
        assert main(sampling) == 2  # sampling into it waits its turn too: no call is made, none paid twice
        assert f"pid {holder.pid}" in capsys.readouterr().err and not (run / "predictions.jsonl").exists()
    finally:
        holder.kill()  # kill -9: no cleanup runs, the lock file stays behind ...
        holder.communicate(timeout=60)
    assert (run / ".lock").exists()
    assert main(argv) == 0  # ... but the lock itself went with its holder
    assert len((run / "scores.jsonl").read_text().splitlines()) == 20 and not (run / ".lock").exists()


def test_resume_repairs_lines_that_two_runs_wrote_for_one_item(
    tmp_path: Path, write_jsonl: Any, caplog: pytest.LogCaptureFixture
) -> None:
    items, preds = _data(tmp_path, write_jsonl, N)
    run = tmp_path / "run"
    with pytest.raises(Crash):
        evaluate(Counting(crash_at="q900"), items, preds, out=run)
    scores = run / "scores.jsonl"
    lines = scores.read_text().splitlines(keepends=True)
    with scores.open("a") as handle:  # a second run into the same directory wrote the same items again
        handle.writelines(lines[:10])
    with pytest.raises(RunDirError, match="'q0' is scored twice"):
        load_run(run)
    resumed = Counting()
    result = evaluate(resumed, items, preds, out=run)
    assert resumed.calls == N - len(lines)
    assert sorted(i.id for i in result.items) == sorted(f"q{i}" for i in range(N))
    assert len(scores.read_text().splitlines()) == N
    assert "10 lines repeated an item already scored" in caplog.text
    assert load_run(run).metrics == evaluate(Counting(), items, preds).metrics


@pytest.mark.parametrize("after", [b"", b'{"id": "q25", "scores": []}\n'], ids=["at-the-end", "then-appended"])
def test_nul_bytes_in_scores_are_truncated_to_the_last_good_line(
    tmp_path: Path, write_jsonl: Any, caplog: pytest.LogCaptureFixture, after: bytes
) -> None:
    items, preds = _data(tmp_path, write_jsonl, N)
    run = tmp_path / "run"
    with pytest.raises(Crash):
        evaluate(Counting(crash_at="q900"), items, preds, out=run)
    scores = run / "scores.jsonl"
    good = scores.read_bytes().splitlines(keepends=True)
    # A crash before the file system wrote the data: the last lines' blocks read back as NUL bytes.
    scores.write_bytes(b"".join(good[:-3]) + b'{"id": "q1' + b"\0" * 4096 + after)
    resumed = Counting()
    result = evaluate(resumed, items, preds, out=run)
    assert resumed.calls == N - (len(good) - 3)
    assert sorted(i.id for i in result.items) == sorted(f"q{i}" for i in range(N))
    assert b"\0" not in scores.read_bytes() and len(scores.read_bytes().splitlines()) == N
    assert "NUL bytes after byte" in caplog.text and "truncated to the last good line" in caplog.text


def test_resume_refuses_another_grader_or_data(tmp_path: Path, write_jsonl: Any) -> None:
    items, preds = _data(tmp_path, write_jsonl, 5)
    evaluate(_EXACT, items, preds, out=tmp_path / "run")
    other = {**_EXACT, "operation": "ne"}
    with pytest.raises(RunDirError, match="different grader"):
        evaluate(other, items, preds, out=tmp_path / "run")
    other_preds = write_jsonl(tmp_path / "other.jsonl", [{"id": f"q{i}", "output_text": "0"} for i in range(5)])
    with pytest.raises(RunDirError, match="different predictions"):
        evaluate(_EXACT, items, other_preds, out=tmp_path / "run")
    with preds.open("a") as handle:  # more samples appended to the same file since the run
        handle.write(json.dumps({"id": "q0", "output_text": "1"}) + "\n")
    with pytest.raises(RunDirError, match=r"different file sizes \(a file changed since\)"):
        evaluate(_EXACT, items, preds, out=tmp_path / "run")


def test_shards_merge_into_the_whole_run(tmp_path: Path, write_jsonl: Any) -> None:
    items, preds = _data(tmp_path, write_jsonl, 200)
    whole = evaluate(_EXACT, items, preds, by=(), seed=1)
    shards = [evaluate(_EXACT, items, preds, shard=(i, 3), seed=1, out=tmp_path / f"s{i}") for i in range(3)]
    assert sum(len(s.items) for s in shards) == 200
    assert all(shard_of(item.id, 3) == i for i, s in enumerate(shards) for item in s.items)
    merged = merge_runs([tmp_path / f"s{i}" for i in range(3)], out=tmp_path / "merged")
    assert merged.metrics["mean"] == pytest.approx(whole.metrics["mean"])
    assert merged.metrics["n"] == 200
    assert (tmp_path / "merged" / "report.html").exists()
    with pytest.raises(RunDirError, match="shards must not overlap"):
        merge_runs([tmp_path / "s0", tmp_path / "s0"])


def test_merged_shards_report_the_same_confidence_interval(tmp_path: Path, write_jsonl: Any) -> None:
    rank = {"type": "list_rank", "name": "r", "input": "{{sample.output_json.genes}}", "reference": "{{item.answer}}"}
    items = write_jsonl(tmp_path / "items.jsonl", [{"id": f"q{i}", "answer": "G"} for i in range(300)])
    lists = [json.dumps({"genes": ["x"] * (i * 7 % 9) + ["G"]}) for i in range(300)]  # 1/r, r = 1..9
    preds = write_jsonl(tmp_path / "preds.jsonl", [{"id": f"q{i}", "output_text": o} for i, o in enumerate(lists)])
    whole = evaluate(rank, items, preds, k=(1,))
    for i in range(2):
        evaluate(rank, items, preds, k=(1,), shard=(i, 2), out=tmp_path / f"s{i}")
    merged = merge_runs([tmp_path / "s0", tmp_path / "s1"])
    # The bootstrap must not depend on the order the items come in: same data, same report.
    assert (merged.metrics["ci_low"], merged.metrics["ci_high"]) == (whole.metrics["ci_low"], whole.metrics["ci_high"])


def test_async_grader_runs_on_one_event_loop(exact: Grader) -> None:
    import asyncio

    loops: set[int] = set()

    class AsyncExact(Grader):
        is_async = True

        def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
            return exact.grade(sample, item)

        async def _agrade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
            loops.add(id(asyncio.get_running_loop()))
            await asyncio.sleep(0)
            return exact.grade(sample, item)

    items = [{"answer": str(i % 2)} for i in range(1100)]
    preds = [{"id": i, "output_text": "1"} for i in range(1100)]
    result = evaluate(AsyncExact(exact.spec), items, preds)
    assert result.metrics["mean"] == 0.5
    assert len(loops) == 1  # an HTTP client bound to the loop survives across batches

    async def inside_a_running_loop() -> float:  # a notebook cell: the sync path grades
        return evaluate(AsyncExact(exact.spec), items[:10], preds[:10]).metrics["mean"]

    assert asyncio.run(inside_a_running_loop()) == 0.5


def test_gene_ranking_baseline_matches_published_top_k() -> None:
    """Acceptance: the README of the data reports top@1/5/20 = 0.567/0.742/0.817 on valid."""
    result = evaluate(
        ROOT / "specs" / "gene_rank.json",
        GENES / "valid.jsonl",
        GENES / "baseline_predictions_valid.jsonl",
        k=(1, 5, 20),
    )
    m = result.metrics
    assert (round(m["top@1"], 3), round(m["top@5"], 3), round(m["top@20"], 3)) == (0.567, 0.742, 0.817)
    assert m["n"] == 252 and m["error_rate"] == 0.0
    test = evaluate(ROOT / "specs" / "gene_rank.json", GENES / "test.jsonl", GENES / "baseline_predictions_test.jsonl")
    t = test.metrics
    assert (round(t["top@1"], 3), round(t["top@5"], 3), round(t["top@20"], 3)) == (0.546, 0.741, 0.805)


@pytest.mark.slow
def test_demo_reports_the_published_figures(tmp_path: Path) -> None:
    """``make demo`` on a fresh checkout: real predictions, a table, an HTML report, no network."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("matches the data README's published") == 2
    assert "top@1            0.5675" in done.stdout
    assert (tmp_path / "gene_ranking_valid" / "report.html").stat().st_size > 10_000
    # GSM8K: each model's accuracy next to its labels' (they agree), and the paired comparison.
    assert "175b_verification    0.5625  0.536 to 0.590      0.5625" in done.stdout
    assert "wins / losses / ties: 499 / 43 / 777" in done.stdout
    assert "Comparison with 6b_finetuning" in (tmp_path / "gsm8k_175b_verification" / "report.html").read_text()
