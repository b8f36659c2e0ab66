"""``rftkit api`` as a subprocess on 127.0.0.1, called by the installed ``openai`` client's
``fine_tuning.alpha.graders.validate`` / ``run``; model graders reach the fake OpenAI server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from graders import HOSTED_ERROR_FLAGS, compile_spec
from graders.testing.openai_server import FakeOpenAIServer, RecordedRequest, Reply
from rftkit.cli import main as rftkit_main

TOKEN = "test-token-1"
BODY_LIMIT = 400_000  # above the 256 kB python source limit, small enough to exceed cheaply
START_S = 90  # a cold start imports fastapi, uvicorn and graders on a busy machine

EXACT = {
    "type": "string_check",
    "name": "exact",
    "operation": "eq",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
}
MULTI = {
    "type": "multi",
    "name": "name_and_email",
    "calculate_output": "(name + email) / 2",
    "graders": {
        "name": {
            "type": "text_similarity",
            "name": "name",
            "input": "{{sample.output_json.name}}",
            "reference": "{{item.name}}",
            "evaluation_metric": "fuzzy_match",
            "pass_threshold": 0.9,
        },
        "email": {
            "type": "string_check",
            "name": "email",
            "input": "{{sample.output_json.email}}",
            "reference": "{{item.email}}",
            "operation": "eq",
        },
    },
}


def python_spec(body: str, **extra: Any) -> dict[str, Any]:
    return {"type": "python", "name": "py", "source": f"def grade(sample, item):\n    {body}\n", **extra}


def judge_reply(request: RecordedRequest) -> dict[str, Any]:
    return {"result": 0.75 if "Paris" in request.prompt else 0.0, "steps": []}


@pytest.fixture(scope="module")
def judge() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(judge_reply) as server:
        yield server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def api(judge: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``rftkit api`` in a subprocess; yields its base URL (``http://127.0.0.1:PORT/v1``)."""
    port = _free_port()
    workdir = tmp_path_factory.mktemp("api")
    env = {**os.environ, "OPENAI_BASE_URL": judge.url, "OPENAI_API_KEY": "judge-key"}
    command = [sys.executable, "-m", "rftkit", "api", "--port", str(port), "--workdir", str(workdir)]
    command += ["--token", TOKEN, "--max-body-bytes", str(BODY_LIMIT), "--log-level", "warning"]
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_S
        while True:
            assert process.poll() is None, (workdir / "server.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "rftkit api did not start"
                time.sleep(0.2)
        WORKDIRS[port] = workdir
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(30)
        log.close()


WORKDIRS: dict[int, Path] = {}


def workdir_of(client: openai.OpenAI) -> Path:
    port = client.base_url.port
    assert port is not None
    return WORKDIRS[port]


@pytest.fixture
def client(api: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=api, api_key=TOKEN, max_retries=0, timeout=60) as c:
        yield c


def run(client: openai.OpenAI, grader: dict[str, Any], model_sample: Any, item: Any = None, **kw: Any) -> Any:
    if item is None:
        return client.fine_tuning.alpha.graders.run(grader=grader, model_sample=model_sample, **kw)  # type: ignore[arg-type]
    return client.fine_tuning.alpha.graders.run(grader=grader, model_sample=model_sample, item=item, **kw)  # type: ignore[arg-type]


def raised_flags(response: Any) -> set[str]:
    errors = response.metadata.errors.model_dump(by_alias=True)
    return {name for name, value in errors.items() if value is True}


def sdk_fields(model: type[Any]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


# --- validate --------------------------------------------------------------------------------


def test_validate_echoes_the_grader(client: openai.OpenAI) -> None:
    response = client.fine_tuning.alpha.graders.validate(grader=EXACT)  # type: ignore[arg-type]
    assert response.grader is not None
    assert response.grader.model_dump(exclude_none=True) == EXACT


def test_validate_a_multi_grader_with_a_dict_of_graders(client: openai.OpenAI) -> None:
    response = client.fine_tuning.alpha.graders.with_raw_response.validate(grader=MULTI)  # type: ignore[arg-type]
    assert json.loads(response.text) == {"grader": MULTI}


def test_a_malformed_grader_is_a_400_naming_its_json_path(client: openai.OpenAI) -> None:
    bad = json.loads(json.dumps(MULTI))
    bad["graders"]["email"]["operation"] = "equals"
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.alpha.graders.validate(grader=bad)
    assert info.value.status_code == 400
    assert info.value.param == "grader.graders.email.operation"
    assert "graders.email.operation" in info.value.message
    assert info.value.body["message"].startswith("invalid grader: invalid value 'equals'")  # type: ignore[index]


def test_a_formula_naming_an_unknown_grader_is_a_400(client: openai.OpenAI) -> None:
    bad = {**MULTI, "calculate_output": "(name + mail) / 2"}
    with pytest.raises(openai.BadRequestError) as info:
        run(client, bad, "{}")
    assert info.value.param == "grader.calculate_output"


# --- run: deterministic graders ------------------------------------------------------------


def test_run_answers_every_field_of_the_sdk_response(client: openai.OpenAI) -> None:
    from openai.types.fine_tuning.alpha import grader_run_response as sdk

    raw = client.fine_tuning.alpha.graders.with_raw_response.run(
        grader=EXACT,  # type: ignore[arg-type]
        model_sample="Paris",
        item={"answer": "Paris"},
    )
    body = json.loads(raw.text)
    assert set(body) == sdk_fields(sdk.GraderRunResponse)
    assert set(body["metadata"]) == sdk_fields(sdk.Metadata)
    assert set(body["metadata"]["errors"]) == sdk_fields(sdk.MetadataErrors)
    assert {flag for flag, _ in HOSTED_ERROR_FLAGS.values()} <= set(body["metadata"]["errors"])


def test_run_string_check(client: openai.OpenAI) -> None:
    right = run(client, EXACT, "Paris", {"answer": "Paris"})
    wrong = run(client, EXACT, "Lyon", {"answer": "Paris"})
    assert (right.reward, wrong.reward) == (1.0, 0.0)
    assert right.metadata.name == "exact" and right.metadata.type == "string_check"
    assert right.metadata.execution_time >= 0
    assert raised_flags(right) == set() and raised_flags(wrong) == set()
    assert right.sub_rewards == {}
    assert right.model_grader_token_usage_per_model == {}


def test_run_multi_gives_sub_rewards_and_the_in_process_reward(client: openai.OpenAI) -> None:
    sample = json.dumps({"name": "Jon Smith", "email": "jon@example.com"})
    item = {"name": "John Smith", "email": "jon@example.com"}
    response = run(client, MULTI, sample, item)
    expected = compile_spec(MULTI).grade(sample, item)
    assert response.reward == pytest.approx(expected.value, abs=1e-12)
    assert 0.5 < response.reward < 1.0
    assert response.sub_rewards["email"] == 1.0
    assert response.sub_rewards["name"] == pytest.approx(expected.details["sub_scores"]["name"])


def test_a_missing_template_variable_sets_its_flag(client: openai.OpenAI) -> None:
    response = run(client, EXACT, "Paris", {"capital": "Paris"})
    assert response.reward == 0.0
    assert raised_flags(response) == {"invalid_variable_error"}


def test_the_older_body_with_reference_answer(client: openai.OpenAI) -> None:
    grader = {**EXACT, "reference": "{{item.reference_answer}}"}
    response = run(client, grader, "Paris", extra_body={"reference_answer": "Paris"})
    assert response.reward == 1.0


def test_model_sample_that_is_not_a_string_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        run(client, EXACT, {"text": "Paris"}, {"answer": "Paris"})
    assert info.value.param == "model_sample"


# --- run: python graders ---------------------------------------------------------------------


def test_run_python(client: openai.OpenAI) -> None:
    spec = python_spec("return len(sample['output_text']) / len(item['answer'])", image_tag="2025-05-08")
    response = run(client, spec, "Par", {"answer": "Paris"})
    assert response.reward == pytest.approx(0.6)
    assert response.metadata.type == "python" and raised_flags(response) == set()


def test_a_crashing_python_grader_sets_the_runtime_flag_with_reward_0(client: openai.OpenAI) -> None:
    response = run(client, python_spec("return 1 / 0"), "x", {})
    assert response.reward == 0.0
    assert raised_flags(response) == {"python_grader_runtime_error"}
    assert "ZeroDivisionError" in response.metadata.errors.python_grader_runtime_error_details


def test_a_hanging_python_grader_sets_the_server_flag_with_reward_0(client: openai.OpenAI) -> None:
    response = run(client, python_spec("while True: pass", timeout_s=1), "x", {})
    assert response.reward == 0.0
    assert raised_flags(response) == {"python_grader_server_error"}
    assert response.metadata.errors.python_grader_server_error_type == "python_grader_timeout"


# --- run: model graders ----------------------------------------------------------------------


def judge_spec(model: str) -> dict[str, Any]:
    prompt = "Grade {{sample.output_text}} against {{item.answer}}"
    return {"type": "score_model", "name": "judge", "model": model, "input": [{"role": "user", "content": prompt}]}


def test_run_score_model_against_the_judge_server(client: openai.OpenAI, judge: FakeOpenAIServer) -> None:
    spec = judge_spec("judge-model")
    judge.reset()
    response = run(client, spec, "Paris", {"answer": "Paris"})
    assert response.reward == 0.75
    assert raised_flags(response) == set()
    assert response.metadata.sampled_model_name == "judge-model"
    usage = response.model_grader_token_usage_per_model["judge-model"]
    assert usage["total_tokens"] > 0 and response.metadata.token_usage == usage["total_tokens"]
    (request,) = judge.chat_requests
    assert request.headers["authorization"] == "Bearer judge-key"
    assert (Path(workdir_of(client)) / "judge_cache.sqlite").is_file()


def test_a_judge_server_error_sets_its_flag(client: openai.OpenAI, judge: FakeOpenAIServer) -> None:
    judge.reset()
    judge.script(Reply.error(404, "model not found"))
    response = run(client, judge_spec("missing-model"), "whatever", {"answer": "y"})
    assert response.reward == 0.0
    assert raised_flags(response) == {"model_grader_server_error"}
    assert "model not found" in response.metadata.errors.model_grader_server_error_details


# --- limits and auth -------------------------------------------------------------------------


def test_a_body_over_the_limit_is_a_413(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        run(client, EXACT, "x" * (BODY_LIMIT + 1), {"answer": "x"})
    assert info.value.status_code == 413


def test_a_wrong_token_is_a_401(api: str) -> None:
    with openai.OpenAI(base_url=api, api_key="wrong", max_retries=0) as other:
        with pytest.raises(openai.AuthenticationError):
            other.fine_tuning.alpha.graders.validate(grader=EXACT)  # type: ignore[arg-type]


def test_a_missing_token_is_a_401_before_the_body_is_read(api: str) -> None:
    port = int(api.rsplit(":", 1)[1].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # The head announces a body that never comes: only an answer from the headers returns.
        sock.sendall(
            b"POST /v1/fine_tuning/alpha/graders/run HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        )
        answer = sock.makefile("rb").read().decode()  # to the end: the server closes the connection
    assert answer.startswith("HTTP/1.1 401")
    assert '"code": "invalid_api_key"' in answer


def test_an_unknown_route_is_a_404_in_openai_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.embeddings.create(model="m", input="a")
    assert "no route POST /v1/embeddings" in info.value.message


def test_binding_outside_loopback_needs_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert rftkit_main(["api", "--host", "0.0.0.0", "--port", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs --token" in err[0]


def test_a_grading_past_the_server_deadline_is_unresponsive_with_reward_0(tmp_path: Path) -> None:
    from rl_adapter import ApiSettings, api_server

    settings = ApiSettings(workdir=tmp_path, grade_timeout_s=0.5)
    slow = python_spec("import time; time.sleep(30); return 1.0", timeout_s=60)
    with api_server(settings) as base_url, openai.OpenAI(base_url=base_url, api_key="x", max_retries=0) as local:
        response = run(local, slow, "x")
    assert response.reward == 0.0
    assert raised_flags(response) == {"unresponsive_reward_error"}


@pytest.mark.parametrize("body", [b"{not json", b"[" * 200 + b"]" * 200, b'["a list"]'], ids=["bad", "deep", "list"])
def test_a_body_that_is_not_a_json_object_is_a_400_in_openai_shape(api: str, body: bytes) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    reply = httpx.post(f"{api}/fine_tuning/alpha/graders/run", content=body, headers=headers, timeout=60)
    assert reply.status_code == 400
    assert set(reply.json()["error"]) == {"message", "type", "param", "code"}
