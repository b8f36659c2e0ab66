"""Sampling from a real HTTP server (graders.testing's fake OpenAI server on 127.0.0.1)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evalkit import DatasetError, EvalError, evaluate, sample
from graders.testing.openai_server import FakeOpenAIServer, RecordedRequest, Reply
from rftkit.cli import main

ROOT = Path(__file__).resolve().parents[2]
# Generous bound for a subprocess to get some samples saved: only catches a hang.
SAVE_TIMEOUT_S = 60
ITEMS = [{"id": f"q{i}", "question": f"What is {i} + {i}?", "answer": str(2 * i)} for i in range(12)]
EXACT = {"type": "string_check", "name": "exact", "operation": "eq", "input": "{{sample.output_text}}",
         "reference": "{{item.answer}}"}  # fmt: skip


def _answer(request: RecordedRequest) -> Reply:
    """Right answer for even questions; the k-th choice of odd ones is right only when k is 0."""
    i = int(re.search(r"What is (\d+)", request.prompt).group(1))  # type: ignore[union-attr]
    n = int((request.body or {}).get("n", 1))
    right = str(2 * i)
    return Reply(contents=[right if i % 2 == 0 or k == 0 else "wrong" for k in range(n)])


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(_answer) as fake:
        yield fake


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_samples_are_saved_with_prompt_and_params(server: FakeOpenAIServer, tmp_path: Path) -> None:
    out = tmp_path / "preds.jsonl"
    stats = sample(ITEMS, out, model="m", base_url=server.url, n=3, prompt="Q: {{item.question}}",
                   system="Answer with a number.", temperature=0.7, max_tokens=16)  # fmt: skip
    assert (stats.saved, stats.reused, stats.items, stats.failures) == (36, 0, 12, [])
    lines = _lines(out)
    assert Counter(line["id"] for line in lines) == {item["id"]: 3 for item in ITEMS}
    assert sorted(line["sample"] for line in lines if line["id"] == "q3") == [0, 1, 2]
    first = server.chat_requests[0]
    assert first.model == "m" and first.body["n"] == 3 and first.body["temperature"] == 0.7
    assert first.body["max_completion_tokens"] == 16
    assert first.messages[0] == {"role": "system", "content": "Answer with a number."}
    assert first.messages[1]["content"].startswith("Q: What is ")
    result = evaluate(EXACT, ITEMS, out, k=(1, 3))
    # Even items: 3 of 3 right; odd: 1 of 3 right.
    assert result.metrics["pass@1"] == pytest.approx((6 * 1 + 6 * (1 / 3)) / 12)
    assert result.metrics["pass@3"] == 1.0
    assert result.metrics["maj@3"] == 0.5


def test_resume_requests_only_missing_samples(server: FakeOpenAIServer, tmp_path: Path) -> None:
    out = tmp_path / "preds.jsonl"
    saved = [{"id": f"q{i}", "output_text": "x", "sample": k} for i in range(10) for k in range(2)]
    saved += [{"id": "q10", "output_text": "x", "sample": 0}]
    out.write_text("".join(json.dumps(line) + "\n" for line in saved) + '{"id": "q11", "outp')  # torn by a kill
    stats = sample(ITEMS, out, model="m", base_url=server.url, n=2, prompt="{{item.question}}")
    asked = {r.prompt: r.body.get("n", 1) for r in server.chat_requests}
    assert asked == {"What is 10 + 10?": 1, "What is 11 + 11?": 2}
    assert (stats.saved, stats.reused) == (3, 21)
    assert Counter(line["id"] for line in _lines(out)) == {item["id"]: 2 for item in ITEMS}
    assert [line["sample"] for line in _lines(out) if line["id"] == "q10"] == [0, 1]


def test_failed_requests_are_reported_and_retried_on_rerun(server: FakeOpenAIServer, tmp_path: Path) -> None:
    def reply(request: RecordedRequest) -> Reply:
        if "What is 5 " in request.prompt and not server_ok:
            return Reply.error(400, "model overloaded with bad vibes")  # a 4xx: not retried
        return _answer(request)

    server.reply_fn = reply
    server_ok = False
    out = tmp_path / "preds.jsonl"
    with pytest.raises(EvalError, match=r"1 of 12 items could not be sampled \('q5': rejected \(HTTP 400\)"):
        sample(ITEMS, out, model="m", base_url=server.url, prompt="{{item.question}}")
    assert len(_lines(out)) == 11
    server_ok = True
    server.reset()
    stats = sample(ITEMS, out, model="m", base_url=server.url, prompt="{{item.question}}")
    assert stats.saved == 1 and [r.prompt for r in server.chat_requests] == ["What is 5 + 5?"]


def test_sampling_from_inside_a_running_loop(server: FakeOpenAIServer, tmp_path: Path) -> None:
    import asyncio

    async def notebook_cell() -> int:
        return sample(ITEMS[:2], tmp_path / "p.jsonl", model="m", base_url=server.url, prompt="{{item.question}}").saved

    assert asyncio.run(notebook_cell()) == 2


def test_rate_limit_is_retried_without_loss(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.script(Reply.error(429, retry_after=0.01), Reply.error(503))
    out = tmp_path / "preds.jsonl"
    stats = sample(ITEMS[:3], out, model="m", base_url=server.url, prompt="{{item.question}}")
    assert stats.saved == 3 and len(server.chat_requests) == 5


def test_items_without_messages_fail_before_any_request(server: FakeOpenAIServer, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"item 'q0' has no 'messages' list"):
        sample(ITEMS, tmp_path / "p.jsonl", model="m", base_url=server.url)
    assert server.chat_requests == []
    chats = [{"id": "a", "messages": [{"role": "user", "content": "What is 1 + 1?"}], "answer": "2"}]
    sample(chats, tmp_path / "p.jsonl", model="m", base_url=server.url)
    assert server.chat_requests[0].messages == chats[0]["messages"]


def test_cli_eval_samples_then_grades(server: FakeOpenAIServer, tmp_path: Path, write_jsonl: Any,
                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    data = write_jsonl(tmp_path / "items.jsonl", ITEMS)
    spec = tmp_path / "exact.json"
    spec.write_text(json.dumps(EXACT))
    args = ["eval", "--grader", str(spec), "--data", str(data), "--model", "m", "--base-url", server.url, "-n", "4",
            "--prompt", "{{item.question}}", "--k", "1,4", "--out", str(tmp_path / "run"), "--quiet"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "pass@4" in out and "maj@4" in out
    assert len(_lines(tmp_path / "run" / "predictions.jsonl")) == 48
    requests = len(server.chat_requests)
    assert main(args) == 0  # a rerun resumes: nothing requested again
    assert len(server.chat_requests) == requests


def test_killed_sampler_resumes_without_rerequesting(tmp_path: Path, write_jsonl: Any) -> None:
    items = [{"id": f"q{i}", "question": f"What is {i} + {i}?"} for i in range(40)]
    data = write_jsonl(tmp_path / "items.jsonl", items)
    out = tmp_path / "preds.jsonl"
    with FakeOpenAIServer(_answer, latency=0.05) as server:
        command = [sys.executable, "-m", "rftkit", "sample", "--data", str(data), "--out", str(out), "--model", "m",
                   "--base-url", server.url, "--prompt", "{{item.question}}", "--concurrency", "2"]  # fmt: skip
        child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + SAVE_TIMEOUT_S
        while (not out.exists() or out.read_text().count("\n") < 10) and time.monotonic() < deadline:
            time.sleep(0.02)
        child.kill()
        child.wait()
        complete = out.read_text().split("\n")[:-1]  # the kill may have torn the last line
        before = {json.loads(line)["id"] for line in complete}
        assert 10 <= len(before) < 40
        server.reset()
        assert main(["sample", "--data", str(data), "--out", str(out), "--model", "m", "--base-url", server.url,
                     "--prompt", "{{item.question}}"]) == 0  # fmt: skip
        again = {re.search(r"What is (\d+)", r.prompt).group(1) for r in server.chat_requests}  # type: ignore[union-attr]
    assert not {f"q{i}" for i in again} & before
    assert Counter(line["id"] for line in _lines(out)) == {item["id"]: 1 for item in items}


def test_model_judge_evaluation_reports_token_usage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """evalkit + a score_model judge over real HTTP: scores, and the tokens it cost."""
    monkeypatch.setenv("RFTKIT_CACHE", str(tmp_path / "calls.sqlite"))

    def judge(request: RecordedRequest) -> Reply:
        return Reply.json({"steps": [], "result": 1.0 if "Answer: right" in request.prompt else 0.0})

    prompt = "Reference: {{item.answer}}\nAnswer: {{sample.output_text}}"
    spec = {"type": "score_model", "name": "judge", "model": "judge-m", "input": [{"role": "user", "content": prompt}]}
    items = [{"answer": "x"} for _ in range(6)]
    preds = [{"id": i, "output_text": "right" if i < 4 else "wrong"} for i in range(6)]
    with FakeOpenAIServer(judge) as server:
        result = evaluate({**spec, "base_url": server.url}, items, preds, out=tmp_path / "run")
        assert len(server.chat_requests) == 6
    assert result.metrics["mean"] == pytest.approx(4 / 6) and result.metrics["error_rate"] == 0.0
    usage = result.config["usage"]["judge-m"]
    assert usage["calls"] == 6 and usage["total_tokens"] > 0
    assert "- model `judge-m`: 6 calls" in (tmp_path / "run" / "report.md").read_text()


def test_cli_sharded_eval_samples_only_its_shard(server: FakeOpenAIServer, tmp_path: Path, write_jsonl: Any) -> None:
    from evalkit import merge_runs, shard_of

    data = write_jsonl(tmp_path / "items.jsonl", ITEMS)
    spec = tmp_path / "exact.json"
    spec.write_text(json.dumps(EXACT))
    for index in range(2):
        mine = {item["id"] for item in ITEMS if shard_of(item["id"], 2) == index}
        before = len(server.chat_requests)
        args = ["eval", "--grader", str(spec), "--data", str(data), "--model", "m", "--base-url", server.url,
                "--prompt", "{{item.question}}", "--shard", f"{index}/2", "--out", str(tmp_path / f"s{index}"),
                "--quiet"]  # fmt: skip
        assert main(args) == 0
        assert len(server.chat_requests) - before == len(mine)  # each shard pays for its own items only
        assert {line["id"] for line in _lines(tmp_path / f"s{index}" / "predictions.jsonl")} == mine
    merged = merge_runs([tmp_path / "s0", tmp_path / "s1"])
    assert merged.metrics["n"] == len(ITEMS) and merged.metrics["mean"] == 1.0


def test_cli_sample_skip_bad_says_what_it_skipped(
    server: FakeOpenAIServer, tmp_path: Path, write_jsonl: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", [ITEMS[0], "{cut off", ITEMS[2]])
    out = tmp_path / "p.jsonl"
    argv = ["sample", "--data", str(data), "--out", str(out), "--model", "m", "--base-url", server.url, "--quiet",
            "--prompt", "{{item.question}}", "--skip-bad"]  # fmt: skip
    assert main(argv) == 0
    assert f"skipped 1 bad line of {data} (line 2)" in capsys.readouterr().err
    assert len(_lines(out)) == 2
