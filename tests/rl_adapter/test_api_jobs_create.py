"""``POST /v1/fine_tuning/jobs`` checks the body and the files at once (no job runs in these tests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from rl_adapter import ApiSettings, api_server
from tests.rl_adapter.test_jobs import EXAMPLE, SMALL_TINY, hosted_body

GOOD = (EXAMPLE / "valid.jsonl").read_text().splitlines()[:4]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[openai.OpenAI]:
    settings = ApiSettings(workdir=tmp_path / "api", model_aliases={"o4-mini-2025-04-16": "tiny"})
    with api_server(settings) as url, openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=30) as c:
        yield c


def upload(client: openai.OpenAI, name: str, lines: list[str]) -> str:
    return client.files.create(file=(name, "".join(line + "\n" for line in lines).encode()), purpose="fine-tune").id


def create(client: openai.OpenAI, train: str, valid: str, **changes: Any) -> Any:
    body = hosted_body(training_file=train, validation_file=valid, **changes)
    return client.fine_tuning.jobs.create(**body)


@pytest.mark.parametrize(
    ("train_lines", "valid_lines", "message"),
    [
        (GOOD[:2] + ["{not json"], GOOD, r"file-\w+ \(train.jsonl\):3: not valid JSON"),
        (GOOD, [GOOD[0], json.dumps({"correct_answer": "G1"})], r"file-\w+ \(valid.jsonl\):2: needs .*'messages'"),
        (GOOD, [], r"file-\w+ \(valid.jsonl\).*no rows"),
    ],
    ids=["line-not-json", "line-without-messages", "empty-validation-file"],
)
def test_bad_files_get_400_with_file_and_line(
    client: openai.OpenAI, train_lines: list[str], valid_lines: list[str], message: str
) -> None:
    train, valid = upload(client, "train.jsonl", train_lines), upload(client, "valid.jsonl", valid_lines)
    with pytest.raises(openai.BadRequestError, match=message):
        create(client, train, valid)
    assert client.fine_tuning.jobs.list().data == []


def test_unknown_body_fields_get_did_you_mean_and_path(client: openai.OpenAI) -> None:
    train, valid = upload(client, "train.jsonl", GOOD), upload(client, "valid.jsonl", GOOD)
    method = hosted_body()["method"]
    method["reinforcement"]["hyperparameters"]["eval_sample"] = 2
    with pytest.raises(openai.BadRequestError, match="did you mean 'eval_samples'") as info:
        create(client, train, valid, method=method)
    assert info.value.param == "method.reinforcement.hyperparameters.eval_sample"
    with pytest.raises(openai.BadRequestError, match="did you mean 'suffix'") as info:
        create(client, train, valid, extra_body={"sufix": "x"})
    assert info.value.param == "sufix"


def test_missing_files_and_unmapped_models_are_refused(client: openai.OpenAI) -> None:
    train = upload(client, "train.jsonl", GOOD)
    with pytest.raises(openai.NotFoundError, match="file-nope") as info:
        create(client, train, "file-nope")
    assert info.value.param == "validation_file"
    with pytest.raises(openai.BadRequestError, match="--model-alias gpt-4.1-mini=DIR") as info:
        create(client, train, train, model="gpt-4.1-mini")
    assert info.value.param == "model"


def test_a_valid_job_is_queued_with_resolved_hyperparameters(client: openai.OpenAI) -> None:
    train, valid = upload(client, "train.jsonl", GOOD), upload(client, "valid.jsonl", GOOD)
    job = create(client, train, valid, extra_body={"rftkit": {"tiny_model": SMALL_TINY}},
                 integrations=[{"type": "wandb", "wandb": {"project": "genes", "tags": ["rft"]}}])
    assert job.id.startswith("ftjob-") and job.status in ("queued", "running", "failed")
    (integration,) = job.integrations or []  # recorded as sent, not run (no network here)
    assert integration.type == "wandb" and integration.wandb.project == "genes"
    assert job.training_file == train and job.validation_file == valid and job.model == "o4-mini-2025-04-16"
    assert job.method is not None and job.method.reinforcement is not None
    assert job.hyperparameters.batch_size == 4  # "auto": min(8, 4 rows)
    assert [j.id for j in client.fine_tuning.jobs.list()] == [job.id]
    assert client.fine_tuning.jobs.retrieve(job.id).id == job.id
    with pytest.raises(openai.NotFoundError):
        client.fine_tuning.jobs.retrieve("ftjob-nope")
    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    with pytest.raises(openai.BadRequestError, match="is cancelled"):
        client.fine_tuning.jobs.cancel(job.id)
    assert client.fine_tuning.jobs.list_events(job.id).data[0].message == "Job cancelled"


def test_a_bad_model_alias_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from rftkit.cli import main as rftkit

    assert rftkit(["api", "--model-alias", "o4-mini"]) == 2
    assert capsys.readouterr().err.strip() == "error: --model-alias takes NAME=LOCAL, not 'o4-mini'"


def test_jobs_list_filters_by_metadata(client: openai.OpenAI) -> None:
    train, valid = upload(client, "train.jsonl", GOOD), upload(client, "valid.jsonl", GOOD)
    bio = create(client, train, valid)  # metadata {"team": "bio"}
    chem = create(client, train, valid, metadata={"team": "chem", "run": "2"})
    bare = create(client, train, valid, metadata=None)
    try:
        assert [j.id for j in client.fine_tuning.jobs.list(metadata={"team": "bio"})] == [bio.id]
        assert [j.id for j in client.fine_tuning.jobs.list(metadata={"team": "chem", "run": "2"})] == [chem.id]
        assert list(client.fine_tuning.jobs.list(metadata={"team": "chem", "run": "3"})) == []
        assert [j.id for j in client.fine_tuning.jobs.list(extra_query={"metadata": "null"})] == [bare.id]
        assert [j.id for j in client.fine_tuning.jobs.list()] == [bare.id, chem.id, bio.id]
        # Both forms at once (the SDK sends one or the other): a 400 in the API's shape.
        both = [("metadata", "null"), ("metadata[team]", "bio")]
        answer = httpx.get(f"{client.base_url}fine_tuning/jobs", params=both)
        assert answer.status_code == 400 and answer.json()["error"]["param"] == "metadata"
    finally:
        for job in (bio, chem, bare):
            client.fine_tuning.jobs.cancel(job.id)
