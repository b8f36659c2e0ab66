"""Reading a math answer: pick it out of the output, normalise its LaTeX, split its structure.

The structure of an answer (tuple, interval, set, union, matrix, equation, ``\\pm``) is read
here with plain string scanning, so that the leaves handed to the expression parser (or to
sympy) are single expressions and the comparison of structures never needs sympy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graders._math.numbers import fold, last_boxed

# Elements of one set, tuple or matrix; more is not a final answer.
MAX_ELEMENTS = 256
# Levels of nested structure (a set of tuples of intervals is 3); keeps recursion shallow.
MAX_STRUCTURE_DEPTH = 8

_BOX_TYPO = re.compile(r"\\beginboxed\s*\{")
_ANSWER_IS = re.compile(r"(?i)(?:final answer|the answer|answer)\s*(?:is|:|=)\s*:?\s*")
_DELIMITER = re.compile(r"\$\$|\$|\\\(|\\\)|\\\[|\\\]")
_CLOSER = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}
_THOUSANDS = re.compile(r"(\d)(?:,\\!|\{,\}|,\\,)\s*(?=\d{3}(?!\d))")
_PLAIN_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|mbox|mathrm|mathbf|textnormal|operatorname)\s*\{([^{}]*)\}")
_UNIT_TAIL = re.compile(r"(?<=[\d}\s])\s*\\(?:text|mbox|mathrm)\s*\{\s*[a-zA-Z][a-zA-Z .]*\}(?:\^\{?\d\}?)?")
_PLAIN_UNIT = re.compile(r"(?<=\d)\s+([a-zA-Z]{2,})(?:\^\{?\d\}?)?\.?\s*$")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ|°|\\degree")
_SPACING = re.compile(r"(\\\\)|\\[,!;: ]|~|\\(?:left|right|big|Big|bigl|bigr|Bigl|Bigr)(?![a-zA-Z])|\\displaystyle")
_RELATIONS = (
    ("\\leq", "<="), ("\\geq", ">="), ("\\le", "<="), ("\\ge", ">="), ("\\neq", "!="), ("\\ne", "!="),
    ("\\lt", "<"), ("\\gt", ">"), ("≤", "<="), ("≥", ">="), ("\\in", " in "),
)  # fmt: skip
_REL_OPS = ("<=", ">=", "!=", " in ", "=", "<", ">")
_FUNCTION_WORDS = frozenset({"sqrt", "pi", "sin", "cos", "tan", "cot", "sec", "csc", "ln", "log", "exp"})


def extract_answer(text: str) -> tuple[str, bool]:
    """The final answer in a model output and whether one was marked: the last ``\\boxed{}``,
    else what follows "the answer is", else the last ``$...$`` math; else (unmarked) the whole text."""
    text = _BOX_TYPO.sub("\\\\boxed{", fold(text))
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed, True
    said = list(_ANSWER_IS.finditer(text))
    if said:
        return text[said[-1].end() :].split("\n", 1)[0], True
    shown = math_spans(text)
    if shown and len(text) > 40:
        start, end, _, _ = shown[-1]
        return text[start:end], True
    return text, False


def math_spans(text: str) -> list[tuple[int, int, int, int]]:
    """The ``$..$``, ``$$..$$``, ``\\(..\\)`` and ``\\[..\\]`` spans of ``text`` as (content
    start, content end, span start, span end), paired in one pass (a lazy regex would be
    quadratic on ``\\(`` repeated 10^5 times)."""
    spans: list[tuple[int, int, int, int]] = []
    opener: re.Match[str] | None = None
    for m in _DELIMITER.finditer(text):
        if opener is None:
            if m.group() in _CLOSER:
                opener = m
        elif m.group() == _CLOSER[opener.group()]:
            if m.start() > opener.end():
                spans.append((opener.end(), m.start(), opener.start(), m.end()))
            opener = None
    return spans


def _unwrap_math(text: str) -> str:
    spans = math_spans(text)
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for start, end, span_start, span_end in spans:
        out.append(text[pos:span_start])
        out.append(text[start:end])
        pos = span_end
    out.append(text[pos:])
    return "".join(out)


def balanced(text: str) -> bool:
    """Whether braces pair up (``{`` and ``}``; escaped ``\\{`` ``\\}`` count too)."""
    depth = 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


# The empty set written as braces: the same answer as \emptyset / \varnothing.
_EMPTY_SET_SPELLINGS = frozenset({"\\{\\}", "\\{ \\}", "\\left\\{\\right\\}"})


def normalize(text: str, *, plain_units: bool = False) -> str:
    """Canonical spelling of an answer: delimiters, spacing, ``\\dfrac``, degrees, units, ``$``.

    ``plain_units`` also drops a trailing word after a number (``10 cm``): for model output
    only, since in a reference ``5 ab`` may be a product.
    """
    s = fold(text).strip()
    s = s.replace("\\$", "")  # a dollar amount, before $ is read as a math delimiter
    s = _unwrap_math(s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("$", "")
    s = _THOUSANDS.sub(r"\1", s)
    s = _SPACING.sub(lambda m: m.group(1) or " ", s)
    s = _DEGREES.sub("", s)
    s = _UNIT_TAIL.sub("", s)
    s = _TEXT_CMD.sub(lambda m: m.group(1), s)
    for latex, plain in _RELATIONS:
        s = re.sub(re.escape(latex) + r"(?![a-zA-Z])", plain, s)
    s = s.replace("\\%", "%").replace("\\mid", "|").replace("\\varnothing", "\\emptyset")
    s = re.sub(r"\s+", " ", s).strip().rstrip(".").strip()
    if s in _EMPTY_SET_SPELLINGS:
        s = "\\emptyset"
    unit = _PLAIN_UNIT.search(s) if plain_units else None
    if unit is not None and unit.group(1) not in _FUNCTION_WORDS:
        s = s[: unit.start()].strip()
    return s


def key(text: str) -> str:
    """A spelling-insensitive key for the cheap string comparison."""
    return re.sub(r"\s+", "", text)


@dataclass(frozen=True, slots=True)
class Node:
    """One level of an answer's structure.

    ``kind`` is ``leaf`` (``text`` holds the expression), ``set`` (unordered: ``\\{..\\}``, a
    bare list, ``\\pm``), ``seq`` (ordered: tuples and intervals; ``open``/``close`` hold the
    brackets), ``union``, ``matrix`` (rows of cells) or ``rel`` (``op`` and two sides).
    """

    kind: str
    text: str = ""
    parts: tuple[Node, ...] = ()
    open: str = ""
    close: str = ""
    op: str = ""
    shape: tuple[int, ...] = ()


class StructureError(ValueError):
    """The answer's brackets or braces do not pair up."""


def _split_top(s: str, separators: tuple[str, ...]) -> list[str]:
    """``s`` split at separators outside every bracket pair."""
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and s.startswith(("\\{", "\\}"), i):
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            for sep in separators:
                if s.startswith(sep, i):
                    parts.append(s[start:i])
                    i += len(sep)
                    start = i
                    break
            else:
                i += 1
            continue
        i += 1
    parts.append(s[start:])
    return parts


def _wraps(s: str) -> bool:
    """Whether the bracket at s[0] closes at s[-1] (any of ( [ pair with any of ) ])."""
    depth = 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i == len(s) - 1
    return False


_MATRIX = re.compile(r"^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$", re.DOTALL)


def structure(s: str, depth: int = 0) -> Node:
    """The structure of a normalised answer; raises StructureError for unbalanced brackets."""
    if depth > MAX_STRUCTURE_DEPTH:
        raise StructureError(f"structures nested over {MAX_STRUCTURE_DEPTH} deep")
    s = s.strip()
    inner = depth + 1
    matrix = _MATRIX.match(s)
    if matrix is not None:
        rows = [r for r in (row.strip() for row in matrix.group(2).split("\\\\")) if r]
        cells = [[structure(c, inner) for c in row.split("&")] for row in rows]
        if sum(len(r) for r in cells) > MAX_ELEMENTS:
            raise StructureError("matrix too large")
        width = {len(r) for r in cells}
        if len(width) > 1:
            raise StructureError("ragged matrix")
        flat = tuple(c for r in cells for c in r)
        return Node("matrix", parts=flat, shape=(len(cells), width.pop() if width else 0))
    union = _split_top(s, ("\\cup", "∪"))
    if len(union) > 1:
        return Node("union", parts=tuple(structure(p, inner) for p in _limit(union)))
    rel = _split_top(s, _REL_OPS)
    if len(rel) > 2 and len(_split_top(s, (",", ";"))) > 1:
        rel = [s]  # "x = 1, y = 2": a list of equations, split at the commas below
    if len(rel) > 1:
        ops = _top_ops(s)
        sides = [structure(p, inner) for p in _limit(rel)]
        if len(ops) == 1:
            return Node("rel", op=ops[0].strip(), parts=(sides[0], sides[1]))
        if all(op == "=" for op in ops):
            return Node("rel", op="=", parts=(sides[0], sides[-1]))  # a chain a = b = c
        return Node("leaf", text=s)
    if s.startswith("\\{") and s.endswith("\\}"):
        return Node("set", parts=_elements(_split_top(s[2:-2], (",", ";")), inner))
    if s[:1] in "([" and s[-1:] in ")]" and _wraps(s):
        elements = _split_top(s[1:-1], (",",))
        if len(elements) > 1:
            parts = tuple(structure(p, inner) for p in _limit(elements))
            return Node("seq", parts=parts, open=s[0], close=s[-1])
    if _PLAIN_THOUSANDS.fullmatch(s):
        return Node("leaf", text=s.replace(",", ""))
    items = _split_top(s, (",", ";"))
    if len(items) > 1:
        return Node("set", parts=_elements(items, inner))
    pm = _split_top(s, ("\\pm", "±"))
    if len(pm) == 2:
        a, b = pm[0].strip(), pm[1].strip()
        lo = f"{a}-({b})" if a else f"-({b})"
        hi = f"{a}+({b})" if a else f"{b}"
        return Node("set", parts=(Node("leaf", text=hi), Node("leaf", text=lo)), open="±")
    if not balanced(s.replace("\\{", "").replace("\\}", "")):
        raise StructureError("unbalanced braces")
    return Node("leaf", text=s)


def _elements(items: list[str], depth: int) -> tuple[Node, ...]:
    """The elements of a set; ``1 \\pm \\sqrt{5}`` inside a set is two of its elements."""
    out: list[Node] = []
    for item in _limit(items):
        node = structure(item, depth)
        out.extend(node.parts if node.kind == "set" and node.open == "±" else (node,))
    return tuple(out)


def _top_ops(s: str) -> list[str]:
    """The relation operators of ``s`` outside every bracket pair, in order."""
    ops: list[str] = []
    depth = 0
    i = 0
    while i < len(s):
        ch = s[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            op = next((op for op in _REL_OPS if s.startswith(op, i)), None)
            if op is not None:
                ops.append(op)
                i += len(op)
                continue
        i += 1
    return ops


def _limit(parts: list[str]) -> list[str]:
    if len(parts) > MAX_ELEMENTS:
        raise StructureError(f"more than {MAX_ELEMENTS} elements")
    if any(not p.strip() for p in parts):
        raise StructureError("empty element")
    return parts
