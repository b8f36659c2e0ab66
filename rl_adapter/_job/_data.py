"""Training and validation rows: JSONL in the hosted RFT service's layout.

A row holds the prompt (``prompt``: a string or a message list; or ``messages``, as the hosted
service writes it) and any reference fields; every field but the prompt reaches the grader as
an item field, and the prompt as ``item.prompt``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graders import iter_jsonl
from rl_adapter._errors import DataFileError
from rl_adapter._trl import TRL_KEYWORDS

PROMPT_FIELDS = ("prompt", "messages")


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Reads a JSONL file of rows, each normalised to have ``prompt``.

    Raises:
        DataFileError: the file cannot be read, or a line is not a JSON object, lacks a prompt,
            or uses a column name TRL reserves; the message names the file and line.
    """
    rows = [_normalise(row, path, number) for number, row in iter_jsonl(path, error=DataFileError)]
    if not rows:
        raise DataFileError("no rows", str(path))
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
