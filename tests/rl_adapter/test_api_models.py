"""``/v1/models`` and ``/v1/chat/completions`` on ``rftkit api``, through the official client: a
hosted script samples the model its job trained (and a checkpoint) after changing only base_url."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from rl_adapter import ApiSettings, api_server
from tests.rl_adapter.test_api_jobs_e2e import body
from tests.rl_adapter.test_jobs import EXAMPLE

HI = [{"role": "user", "content": "Which gene?"}]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[openai.OpenAI]:
    with api_server(ApiSettings(workdir=tmp_path / "api", model_aliases={"o4-mini-2025-04-16": "tiny"})) as url, \
            openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=120) as client:
        yield client


@pytest.mark.parametrize(
    ("changes", "param", "message"),
    [
        ({"stream": True}, "stream", "stream is not supported"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools", "tools is not supported"),
        ({"n": 0}, "n", "n must be between 1 and 64"),
        ({"temperature": "hot"}, "temperature", "temperature must be a number"),
        ({"max_completion_tokens": 1.5}, "max_completion_tokens", "must be an integer"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
         "messages.1.role", "the last message must come from the user"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
         "messages.0.content", "only text content parts"),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
         "response_format.json_schema", "json_schema.schema must be a JSON schema object"),
    ],
)
def test_a_bad_chat_request_is_a_400_naming_the_field(client: openai.OpenAI, changes: dict[str, Any], param: str,
                                                      message: str) -> None:
    request: dict[str, Any] = {"model": "ft:anything", "messages": HI, **changes}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(**request)
    assert info.value.param == param and message in info.value.message


def test_an_unknown_model_is_a_404(client: openai.OpenAI) -> None:
    assert client.models.list().data == []
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="/etc", messages=HI)  # never read as a path
    assert info.value.code == "model_not_found" and "GET /v1/models lists them" in info.value.message
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def local_greedy(model_dir: str, prompt: str, tokens: int) -> str:
    """What transformers itself generates greedily from the saved model, for comparison."""
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(model_dir)  # the tiny model's (docs/jobs.md)
    enc = tokenizer([prompt], return_tensors="pt", add_special_tokens=False)
    out = model.generate(**enc, max_new_tokens=tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, temperature=None, top_p=None, top_k=None)
    text: str = tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    return text


@pytest.mark.slow
def test_a_trained_model_and_its_checkpoints_answer_chat_completions(client: openai.OpenAI) -> None:
    train = client.files.create(file=("train.jsonl", (EXAMPLE / "train.jsonl").read_bytes()), purpose="fine-tune")
    valid_lines = (EXAMPLE / "valid.jsonl").read_text().splitlines()[:4]
    valid = client.files.create(file=("valid.jsonl", "\n".join(valid_lines).encode()), purpose="fine-tune")
    fields = body(train.id, valid.id)
    fields["rftkit"]["hyperparameters"]["max_steps"] = 4
    extras = {"rftkit": fields.pop("rftkit")}
    job = client.fine_tuning.jobs.create(**fields, extra_body=extras)
    deadline = time.monotonic() + 300
    while (job := client.fine_tuning.jobs.retrieve(job.id)).status not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.2)
    assert job.status == "succeeded", job.error
    final = job.fine_tuned_model
    assert final is not None
    checkpoints = [c.fine_tuned_model_checkpoint for c in client.fine_tuning.jobs.checkpoints.list(job.id)]
    assert len(checkpoints) == 2  # steps 2 and 4
    assert sorted(m.id for m in client.models.list()) == sorted([final, *checkpoints])
    assert client.models.retrieve(final).owned_by == "rftkit"

    # Sampled: n choices, a seed repeats them, usage counts the tokens.
    asked = {"model": final, "messages": HI, "n": 4, "max_completion_tokens": 3, "temperature": 1.5}
    first = client.chat.completions.create(**asked, seed=11)
    again = client.chat.completions.create(**asked, seed=11)
    assert len(first.choices) == 4 and [c.index for c in first.choices] == [0, 1, 2, 3]
    assert [c.message.content for c in first.choices] == [c.message.content for c in again.choices]
    assert first.usage is not None and first.usage.prompt_tokens == 2  # "Which gene?": two words
    assert 4 <= first.usage.completion_tokens <= 12
    assert all(c.finish_reason in ("stop", "length") for c in first.choices)
    assert any(c.finish_reason == "length" for c in first.choices)  # a random tiny model rarely ends at once
    # Without a limit, the job's own max_completion_length (2 tokens) applies.
    default = client.chat.completions.create(model=final, messages=HI, n=4, seed=3)
    assert default.usage is not None and default.usage.completion_tokens <= 4 * 2

    # Greedy: exactly what transformers generates from the saved model, for the model and a checkpoint.
    for model in (final, checkpoints[0]):
        greedy = client.chat.completions.create(model=model, messages=HI, max_completion_tokens=3, temperature=0)
        assert greedy.model == model
        assert greedy.choices[0].message.content == local_greedy(model, "Which gene?", 3)
