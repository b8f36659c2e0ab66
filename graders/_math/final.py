"""The final answer of a model output: strip the reasoning trace, find every answer the output
commits to, and read an unreduced value (``128/2``, ``3*6 = 18``) as the number it stands for.

Shared by ``numeric`` (numbers) and ``math`` (LaTeX answers). An output that commits to several
*different* final answers ("18 or 25", two boxes with different values, ``#### 18`` then
``#### 25``, a list of candidates after "the answer is") is a hedge: the graders pay it nothing
by default, because a policy that learns to list candidates would otherwise collect the reward
of the right one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from graders._math.expr import TooLarge, Unsupported, exact, parse
from graders._math.numbers import MARKER_SPAN, Number, boxed_contents, first_number, fold, last_number

# An arithmetic answer longer than this is not an unreduced final value but a derivation.
MAX_ARITHMETIC_CHARS = 120

# No two whitespace runs may meet without a token between them: "1" and 9,000 spaces would
# otherwise backtrack quadratically.
_OPERAND = r"(?:\(\s*)?(?:[-+]\s*)?(?:\\?\$\s*)?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:\s*\))?"
_OPERATOR = r"(?:[-+*/^×÷·]|\\times|\\cdot|\\div|x(?=\s))"
# A plain arithmetic expression: numbers joined by operators (at least one operator).
_ARITHMETIC = re.compile(rf"{_OPERAND}(?:\s*{_OPERATOR}\s*{_OPERAND})+")
_EQUALS = re.compile(r"\s*=\s*")  # "1/3 ≈ 0.33" keeps 1/3: an approximation is not the value
# What joins one committed answer to another: "or", "or maybe", ", maybe", a bare list comma.
_HEDGE_JOIN = re.compile(
    r"(?:\s+(?!or\b|and\b)[A-Za-z]{1,12}){0,2}"  # a unit word or two after the number ("18 dollars or 25")
    r"\s*(?:,\s*)?(?:(?:or|and/or)(?:\s+(?:maybe|perhaps|possibly|else))?|maybe|perhaps|possibly)\s+(?:even\s+)?"
    r"|\s*[,;]\s+(?=[-+]?(?:\\\$|\$)?\d)",  # "18, 25": a space after the comma, so "2,74" is no list
    re.IGNORECASE,
)
_SYMBOLS = str.maketrans({"×": "*", "÷": "/", "·": "*"})


def strip_reasoning(text: str, tags: tuple[str, str] | None) -> str:
    """``text`` after its reasoning trace: what follows the last closing tag. An opening tag that
    never closes means the output ran out inside its reasoning: nothing after it is an answer."""
    if tags is None:
        return text
    opening, closing = tags
    end = text.rfind(closing)
    if end >= 0:
        return text[end + len(closing) :]
    start = text.find(opening)
    return text if start < 0 else text[:start]


def evaluate(expression: str) -> Fraction | None:
    """The exact value of a plain arithmetic expression (``128/2``, ``3 \\times 6``), or None."""
    if len(expression) > MAX_ARITHMETIC_CHARS:
        return None
    plain = re.sub(r"(?<=\d),(?=\d{3})", "", expression.translate(_SYMBOLS))
    plain = re.sub(r"\\?\$", "", plain).replace("x", "*")
    try:
        return exact(parse(plain))
    except (Unsupported, TooLarge, ZeroDivisionError, RecursionError):
        return None


def _value_at(text: str, pos: int) -> tuple[Number | None, int]:
    """The value that starts at ``pos``: an arithmetic expression, or else the first number;
    an ``=`` chain (``3*6 = 18``) is read to its last link, which is the value that counts."""
    number: Number | None = None
    end = pos
    while True:
        arithmetic = _ARITHMETIC.match(text, pos)
        value = evaluate(arithmetic.group()) if arithmetic is not None else None
        if arithmetic is not None and value is not None:
            number, end = Number(value, arithmetic.group().strip()), arithmetic.end()
        else:
            found = _first_number_at(text, pos)
            if found is None:
                return number, end
            number, end = found
        equals = _EQUALS.match(text, end)
        if equals is None or equals.end() >= len(text) or _first_number_at(text, equals.end(), anchored=True) is None:
            return number, end
        pos = equals.end()


_NUMBER_START = re.compile(r"(?:(?:\(\s*)?(?:[-+]\s*)?(?:(?:\\\$|\$|€|£|¥|₹)\s*)?\.?\d|-?\\[dt]?frac)")


def _first_number_at(text: str, pos: int, *, anchored: bool = False) -> tuple[Number, int] | None:
    """The first number at or after ``pos`` (right at ``pos`` when ``anchored``) and where it ends."""
    if anchored and _NUMBER_START.match(text, pos) is None:
        return None
    window = text[pos : pos + MARKER_SPAN]
    number = first_number(window)
    if number is None:
        return None
    at = window.find(number.text)
    return number, pos + (at + len(number.text) if at >= 0 else len(window))


def read_span(text: str) -> tuple[Number | None, list[Number]]:
    """The answer value at the start of an answer span (what follows a cue, a box's content, a
    ``####`` line) and the other values the span offers as alternatives ("18 or 25", "18, 25")."""
    first_at = _NUMBER_START.search(text)
    if first_at is None:
        number = first_number(text)
        return number, []
    number, end = _value_at(text, first_at.start())
    if number is None:
        return first_number(text), []
    others: list[Number] = []
    while len(others) < 16:
        join = _HEDGE_JOIN.match(text, end)
        if join is None or _NUMBER_START.match(text, join.end()) is None:
            break
        other, end = _value_at(text, join.end())
        if other is None:
            break
        others.append(other)
    return number, others


_OR_BEFORE = re.compile(
    r"(?:either\s+)?(?P<other>[-+]?(?:\\\$|\$)?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?)"
    r"(?:\s+[A-Za-z]{1,12})?\s*,?\s*(?:or|and/or)(?:\s+(?:maybe|perhaps|possibly))?\s*$",
    re.IGNORECASE,
)


def alternative_before(text: str, start: int) -> Number | None:
    """A number offered as an alternative just before ``start`` ("18 or " before 25)."""
    m = _OR_BEFORE.search(text[max(0, start - 60) : start])
    return None if m is None else first_number(m.group("other"))


# Boxes looked at for a hedge: the last few; an output with hundreds of boxes is read by its last ones.
MAX_BOXES = 32

_GSM8K_MARK = re.compile(rf"####[ \t]*([^\n]{{0,{MARKER_SPAN}}})")
_ANSWER_LINE = re.compile(rf"(?im)^[ \t]*(?:A|Answer|Final answer)[ \t]*:[ \t]*([^\n]{{0,{MARKER_SPAN}}})")
_ANSWER_IS = re.compile(rf"(?i)\b(?:final answer|answer)\s*(?:is|=|:)\s*(?::\s*)?([^\n]{{0,{MARKER_SPAN}}})")
_BARE_NUMBER = re.compile(r"\s*[-+]?(?:\\?\$)?\s*[\d.,/]+\s*")
# "1000,99" and "2,74": a comma that cannot be a thousands separator (not three digits after it,
# or more than three before it) is a decimal comma when the spec says so.
_DECIMAL_COMMA = re.compile(r"(?<![\d,.])(\d+),(\d+)(?![\d,]|\.\d)")


@dataclass(frozen=True, slots=True)
class Picked:
    """The answer an output commits to, and the different answers it also commits to (a hedge)."""

    number: Number | None
    others: list[Number] = field(default_factory=list)

    @property
    def hedged(self) -> bool:
        return self.number is not None and any(o.value != self.number.value for o in self.others)


def decimal_commas(text: str) -> str:
    """``1000,99`` -> ``1000.99`` where the comma cannot be a thousands separator."""

    def swap(m: re.Match[str]) -> str:
        whole, part = m.group(1), m.group(2)
        if len(whole) <= 3 and len(part) == 3:
            return m.group()  # 1,000 is a thousands separator under either convention
        return f"{whole}.{part}"

    return _DECIMAL_COMMA.sub(swap, text)


_TEXT_WRAPPER = re.compile(r"\\(?:text|textrm|textnormal|mbox|mathrm)\s*\{([^{}]*)\}")


def _span(span: str) -> Picked:
    number, others = read_span(_TEXT_WRAPPER.sub(r" \1 ", span))
    return Picked(number, others)


def _marks(text: str) -> Picked | None:
    marks = _GSM8K_MARK.findall(text)
    if not marks:
        return None
    picked = [_span(mark) for mark in marks[-MAX_BOXES:]]
    found = [p for p in picked if p.number is not None]
    if not found:
        return Picked(None)
    last = found[-1]
    # "#### 18" then later "#### 25": two final answers
    return Picked(last.number, [o for p in found for o in (p.number, *p.others) if o is not None])


def _gsm8k(text: str) -> Picked:
    picked = _marks(text)
    if picked is not None:
        return picked
    lines = _ANSWER_LINE.findall(text)
    if lines:
        return _span(lines[-1])
    return Picked(None)


def _gsm8k_reference(text: str) -> Picked:
    picked = _gsm8k(text)
    if picked.number is None and _BARE_NUMBER.fullmatch(text):
        return _span(text)  # verl's GSM8K preprocessing stores the bare number "72"
    return picked


def _boxed(text: str) -> Picked:
    boxes = [b for b in boxed_contents(text)[-MAX_BOXES:] if "\\boxed" not in b and "\\fbox" not in b]
    picked = [_span(box) for box in boxes]
    found = [p for p in picked if p.number is not None]
    if not found:
        return Picked(None)
    return Picked(found[-1].number, [o for p in found for o in (p.number, *p.others) if o is not None])


def _last(text: str) -> Picked:
    number = last_number(text)
    if number is None:
        return Picked(None)
    tail = text[-4 * MARKER_SPAN :]
    at = tail.rfind(number.text)
    other = alternative_before(tail, at) if at >= 0 else None
    return Picked(number, [] if other is None else [other])


def _auto(text: str) -> Picked:
    for extract in (_gsm8k, _boxed):
        picked = extract(text)
        if picked.number is not None:
            return picked
    said = _ANSWER_IS.findall(text)
    if said:
        picked = _span(said[-1])
        if picked.number is not None:
            return picked
    return _last(text)


def _plain(reader: Callable[[str], Number | None]) -> Callable[[str], Picked]:
    return lambda text: Picked(reader(text))


# first_number and last_number read a position by definition: they are not guarded against hedges
# (``rftkit check`` flags a spec that uses them).
EXTRACTORS: dict[str, Callable[[str], Picked]] = {
    "auto": _auto,
    "gsm8k": _gsm8k,
    "boxed": _boxed,
    "last_number": _plain(last_number),
    "first_number": _plain(first_number),
}
REFERENCE_EXTRACTORS = {**EXTRACTORS, "gsm8k": _gsm8k_reference}


def pick(
    text: str,
    mode: str,
    pattern: re.Pattern[str] | None = None,
    *,
    reference: bool = False,
    decimal_comma: bool = False,
) -> Picked:
    """The answer number of ``text`` under ``mode`` (``regex`` reads ``pattern``'s answer group)."""
    text = fold(text)
    if decimal_comma:
        text = decimal_commas(text)
    if mode == "regex":
        assert pattern is not None
        found = None
        for match in pattern.finditer(text):
            found = match  # the last match counts, as the last number does in the other modes
        if found is None:
            return Picked(None)
        group = found.group("answer") if "answer" in pattern.groupindex else found.group(1)
        return Picked(None) if group is None else _span(group)
    return (REFERENCE_EXTRACTORS if reference else EXTRACTORS)[mode](text)
