"""The progress bar: silent on short runs, then done/total, rate and ETA on stderr."""

from __future__ import annotations

import io
from typing import Any

import pytest

from evalkit import _progress
from evalkit._progress import Progress


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_silent_at_first_then_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(_progress.time, "monotonic", clock)
    stream: Any = io.StringIO()
    bar = Progress(1000, stream=stream)
    bar.update(100)
    clock.now += 0.5
    bar.update(100)
    assert stream.getvalue() == ""  # under SHOW_AFTER_S: short runs print nothing
    clock.now += 1.5  # 2 s in, 300 of 1000 done: 150 items/s, 700 left
    bar.update(100)
    line = stream.getvalue()
    assert "grading 300/1,000 [#######.................]  30.0%" in line
    assert "ETA 4s" in line and "150 items/s" in line and line.endswith("\n")  # not a tty: one line
    bar.update(10)
    assert stream.getvalue() == line  # a log line at most every LOG_EVERY_S
    bar.close()
    assert stream.getvalue().count("\n") == 2 and "310/1,000" in stream.getvalue()


def test_disabled_progress_prints_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(_progress.time, "monotonic", clock)
    stream: Any = io.StringIO()
    bar = Progress(None, enabled=False, stream=stream)
    clock.now += 60
    bar.update(5)
    bar.close()
    assert stream.getvalue() == "" and bar.done == 5
