"""Fixtures shared by the model-client and model-grader tests (imported by both test modules)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
