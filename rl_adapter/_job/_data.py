"""Training and validation rows: JSONL in the hosted RFT service's layout.

A row holds the prompt (``prompt``: a string or a message list; or ``messages``, as the hosted
service writes it, whose last message comes from the user, a final assistant turn being the
reference and not part of the prompt), optional ``tools`` (passed to the chat template) and any
reference fields. The grader sees the row exactly as written (``rl_adapter._lossless``), with
``item.prompt`` added when the row has none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from graders import iter_jsonl
from rl_adapter._errors import DataFileError
from rl_adapter._lossless import prompt_of


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Reads a JSONL file of rows, unchanged.

    Raises:
        DataFileError: the file cannot be read, or a line is not a JSON object or lacks a prompt;
            the message names the file and line.
    """
    rows = [_check_row(row, path, number) for number, row in iter_jsonl(path, error=DataFileError)]
    if not rows:
        raise DataFileError("no rows", str(path))
    return rows


def _check_row(row: dict[str, Any], path: Path, number: int) -> dict[str, Any]:
    prompt = prompt_of(row)
    if isinstance(prompt, str):
        return row
    if not (isinstance(prompt, list) and prompt and all(isinstance(m, dict) for m in prompt)):
        raise DataFileError(f"{path}:{number}: needs 'prompt' (a string or a list of messages) or 'messages'")
    if prompt[-1].get("role") != "user":
        raise DataFileError(f"{path}:{number}: the last prompt message must come from the user, not "
                            f"{prompt[-1].get('role')!r}")
    tools = row.get("tools")
    if tools is not None and not (isinstance(tools, list) and all(isinstance(t, dict) for t in tools)):
        raise DataFileError(f"{path}:{number}: 'tools' must be a list of tool objects")
    return row


def text_of(prompt: Any) -> str:
    """The words of a prompt (a string, or the contents of a message list)."""
    if isinstance(prompt, str):
        return prompt
    return " ".join(str(m.get("content", "")) for m in prompt if isinstance(m, dict))


def render_prompts(
    rows: Sequence[Mapping[str, Any]],
    tokenizer: Any,
    *,
    template_kwargs: Mapping[str, Any],
    schema: Mapping[str, Any] | None,
) -> list[str]:
    """The text each row's prompt gives the model, the same in training and validation.

    Message lists go through the tokenizer's chat template with the row's ``tools`` and
    ``template_kwargs`` (the thinking switch); a tokenizer without a template (the tiny model's)
    gets the messages' contents joined. With a ``response_format`` schema, its instruction is added.
    """
    from rl_adapter._job._format import with_instruction

    out = []
    for row in rows:
        prompt = prompt_of(row)
        if schema is not None:
            prompt = with_instruction(prompt, schema)
        if isinstance(prompt, str):
            out.append(prompt)
        elif tokenizer is not None and getattr(tokenizer, "chat_template", None):
            tools = row.get("tools")
            out.append(tokenizer.apply_chat_template(
                prompt, tools=tools or None, add_generation_prompt=True, tokenize=False, **template_kwargs
            ))
        else:
            out.append(text_of(prompt))
    return out
