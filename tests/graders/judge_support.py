"""Specs and rubric shared by the judge tests (their fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any

from graders.testing.openai_server import FakeOpenAIServer

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
