"""Fixtures shared by the model-client and model-grader tests (each judge test module imports them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graders.client import ClientSettings, configure
from graders.testing.openai_server import FakeOpenAIServer


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own cache file and default client settings, and no real endpoint."""
    cache = tmp_path / "calls.sqlite"
    monkeypatch.setenv("RFTKIT_CACHE", str(cache))
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    old = configure(ClientSettings())
    yield cache
    configure(old)


RUBRIC = [
    {"role": "system", "content": "You grade answers against a reference. Score 0 to 1."},
    {"role": "user", "content": "Reference: {{item.reference}}\nAnswer: {{sample.output_text}}"},
]


def score_spec(server: FakeOpenAIServer, **extra: Any) -> dict[str, Any]:
    return {
        "type": "score_model",
        "name": "judge",
        "model": "judge-m",
        "input": RUBRIC,
        "base_url": server.url,
        **extra,
    }


def label_spec(server: FakeOpenAIServer, **extra: Any) -> dict[str, Any]:
    spec = {
        "type": "label_model",
        "name": "verdict",
        "model": "label-m",
        "input": [{"role": "user", "content": "Is '{{sample.output_text}}' correct? Say good or bad."}],
        "labels": ["good", "bad"],
        "passing_labels": ["good"],
        "base_url": server.url,
    }
    return {**spec, **extra}
