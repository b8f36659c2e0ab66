"""Fixtures of the judge tests (client, model graders, judge specs): a fake OpenAI server, and
settings isolated per test. Those modules opt in with ``pytestmark``."""

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


@pytest.fixture
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own cache file and default client settings, and no real endpoint."""
    cache = tmp_path / "calls.sqlite"
    monkeypatch.setenv("RFTKIT_CACHE", str(cache))
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    old = configure(ClientSettings())
    yield cache
    configure(old)
