"""Training and validation rows: JSONL in the hosted RFT service's layout.

A row holds the prompt (``prompt``: a string or a message list; or ``messages``, as the hosted
service writes it) and any reference fields; every field but the prompt reaches the grader as
an item field, and the prompt as ``item.prompt``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rl_adapter._errors import DataFileError
from rl_adapter._trl import TRL_KEYWORDS

PROMPT_FIELDS = ("prompt", "messages")


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Reads a JSONL file of rows, each normalised to have ``prompt``.

    Raises:
        DataFileError: a line is not a JSON object, lacks a prompt, or uses a column name
            TRL reserves; the message names the file and line.
        OSError: the file cannot be read.
    """
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise DataFileError(f"{path}:{number}: not valid JSON: {exc}") from None
            if not isinstance(row, dict):
                raise DataFileError(f"{path}:{number}: a row must be a JSON object, not {type(row).__name__}")
            rows.append(_normalise(row, path, number))
    if not rows:
        raise DataFileError(f"{path}: no rows")
    return rows


def _normalise(row: dict[str, Any], path: Path, number: int) -> dict[str, Any]:
    if "prompt" not in row and "messages" in row:
        messages = row.pop("messages")
        # The hosted layout may end with the reference assistant turn; the prompt is what precedes it.
        if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
            if messages[-1].get("role") == "assistant":
                messages = messages[:-1]
        row["prompt"] = messages
    prompt = row.get("prompt")
    if not (isinstance(prompt, str) or (isinstance(prompt, list) and all(isinstance(m, dict) for m in prompt))):
        raise DataFileError(f"{path}:{number}: needs 'prompt' (a string or a list of messages) or 'messages'")
    clash = sorted((set(row) & TRL_KEYWORDS) - {"prompt"})
    if clash:
        raise DataFileError(f"{path}:{number}: column {clash[0]!r} clashes with an argument TRL passes; rename it")
    return row


def text_of(prompt: Any) -> str:
    """The words of a prompt (a string, or the contents of a message list)."""
    if isinstance(prompt, str):
        return prompt
    return " ".join(str(m.get("content", "")) for m in prompt if isinstance(m, dict))
