"""``/v1/files`` through the official ``openai`` client against ``rftkit api`` on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from rl_adapter import ApiSettings, api_server


@pytest.fixture
def client(tmp_path: Path) -> Iterator[openai.OpenAI]:
    with api_server(ApiSettings(workdir=tmp_path / "api")) as url, \
            openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=30) as c:
        yield c


def test_upload_list_retrieve_content_delete(client: openai.OpenAI, tmp_path: Path) -> None:
    data = b'{"messages": [{"role": "user", "content": "hi"}], "answer": "G1"}\n'
    source = tmp_path / "train.jsonl"
    source.write_bytes(data)
    with source.open("rb") as handle:
        first = client.files.create(file=handle, purpose="fine-tune")
    second = client.files.create(file=("valid.jsonl", b"{}\n"), purpose="fine-tune")
    assert first.id.startswith("file-") and first.filename == "train.jsonl" and first.bytes == len(data)
    assert first.purpose == "fine-tune" and first.status == "processed" and first.object == "file"

    assert [f.id for f in client.files.list()] == [second.id, first.id]  # newest first
    assert [f.id for f in client.files.list(order="asc")] == [first.id, second.id]
    page = client.files.list(limit=1)
    assert [f.id for f in page.data] == [second.id] and page.has_next_page()
    assert [f.id for f in client.files.list(limit=1, after=second.id).data] == [first.id]
    assert client.files.retrieve(first.id).filename == "train.jsonl"
    assert client.files.content(first.id).content == data

    deleted = client.files.delete(first.id)
    assert deleted.deleted and deleted.id == first.id
    assert [f.id for f in client.files.list()] == [second.id]
    with pytest.raises(openai.NotFoundError, match=first.id):
        client.files.retrieve(first.id)


def test_bad_uploads_are_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="purpose must be one of") as info:
        client.files.create(file=("a.jsonl", b"{}\n"), purpose="fine_tune")  # type: ignore[arg-type]
    assert info.value.param == "purpose"
    with pytest.raises(openai.NotFoundError):
        client.files.content("file-nope")
