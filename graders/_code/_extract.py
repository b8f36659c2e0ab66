"""Finding the program in a model's output: the last fenced code block, else the whole text."""

from __future__ import annotations

import re
from dataclasses import dataclass

# An opening or closing fence: up to three spaces, then three or more backticks or tildes.
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)[^\n`]*$")


@dataclass(frozen=True)
class Extracted:
    """The code found in an output, and how: ``how`` goes into ``details`` as it is."""

    code: str
    how: str


def extract_code(text: str) -> Extracted:
    """The last fenced code block of ``text`` (any language tag, or none), else all of it.

    A block opened but never closed (an output cut off by the length limit) runs to the end of
    the text. The scan is one pass over the lines, so a hostile output with thousands of
    fences costs no more than its length.

    Example:
        >>> extract_code("Here:\\n```python\\nprint(1)\\n```\\nDone.").code
        'print(1)'
    """
    lines = text.split("\n")
    blocks: list[tuple[int, int, str]] = []  # (first line, end line (exclusive), tag)
    opened: tuple[int, str, str] | None = None  # (first line, fence, tag)
    for i, line in enumerate(lines):
        match = _FENCE.match(line)
        if match is None:
            continue
        fence, tag = match.group(1), match.group(2)
        if opened is None:
            opened = (i + 1, fence, tag)
        elif fence[0] == opened[1][0] and len(fence) >= len(opened[1]) and not tag:
            blocks.append((opened[0], i, opened[2]))
            opened = None
    unclosed = opened is not None
    if opened is not None:
        blocks.append((opened[0], len(lines), opened[2]))
    if not blocks:
        return Extracted(text.strip("\n"), "the whole output (no fenced code block)")
    start, end, tag = blocks[-1]
    label = f"'{tag}' " if tag else ""
    how = f"the last fenced {label}code block ({len(blocks)} found)"
    if unclosed:
        how += ", unclosed: taken to the end of the output"
    return Extracted("\n".join(lines[start:end]), how)
