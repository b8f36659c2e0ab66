"""Number extraction from free text: the parsing half of the ``numeric`` kind.

Numbers are read into exact ``Fraction`` values (``"0.1"`` is exactly 1/10, so tolerances
mean what they say). The text is first folded to ASCII digits and signs (full-width digits,
Unicode minus); ``graders._math.final`` picks the span holding the answer and the first
well-formed number inside it is read here.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction

# A number token with more digits than this is not an answer but noise (or an attack):
# int() of 10 MB of digits is quadratic, and Python refuses past 4300 digits anyway.
MAX_NUMBER_DIGITS = 64
# Exponents of scientific notation past this would make huge Fractions for no real answer.
MAX_EXPONENT = 400
# last_number reads this many final characters first: long outputs end in their answer.
TAIL_CHARS = 4_000
_NUMBER_CHARS = re.compile(r"[\d.,/]*")
_DIGITS = re.compile(r"\d*")
# first_number reads a text up to this long in one pass; a longer one lazily, number by number.
SHORT_TEXT = 2_000
# Balanced-brace scan of \boxed{...}: a box holding more than this is not a final answer.
MAX_BOX_CHARS = 10_000

# Characters folded before matching: minus signs and dashes that models print for "-".
_MINUS = str.maketrans({"\u2212": "-", "\u2012": "-", "\ufe63": "-", "\uff0d": "-", "\u2796": "-"})
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
# A character whose compatibility form is longer than this is kept as it is (see ``fold``).
MAX_FOLD_GROWTH = 3

# sign, integer part (with optional thousands commas), decimals, scientific exponent,
# an optional "/denominator" and an optional percent sign. Look-behinds stop us reading the
# "5" of "x5" or the "3" of "1.2.3" as a number of its own.
_NUMBER = re.compile(
    r"""
    (?<![\w.])
    (?=[-+]?(?:\\\$|\$|€|£|¥|₹)?\s?\.?\d)  # a digit ahead: no empty match at every position
    (?P<sign>[-+])?
    (?:\\\$|\$|€|£|¥|₹)?\s?
    (?P<int>\d{1,3}(?:,\d{3})+(?!\d)|\d+)?
    (?P<dec>\.\d+)?
    (?:[eE](?P<exp>[-+]?\d+))?
    (?:\s?/\s?(?P<den>\d+)(?!\d|\.\d))?  # "128/2." ends a sentence: the period is no decimal
    (?P<pct>\s?(?:\\?%|\s?percent\b))?
    """,
    re.VERBOSE,
)
# the space after the sign sits inside its group: "\s*\\frac" alone would rescan every run of blanks
_FRAC = re.compile(r"(?:(?P<sign>-)\s*)?\\[dt]?frac\s*\{\s*(?P<num>-?\d+)\s*\}\s*\{\s*(?P<den>\d+)\s*\}")
_MIXED = re.compile(r"(?<![\w./])(?P<sign>-)?(?P<whole>\d+)\s+(?P<num>\d+)\s?/\s?(?P<den>\d+)(?!\d|\.\d)")
# What follows an answer marker is read up to this many characters (an answer is short).
MARKER_SPAN = 200
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BRACE = re.compile(r"(?<!\\)[{}]")  # \{ and \} are set braces, not groups
_GROUPED = re.compile(r"\\\{?,\\?\}?|\{,\}")  # LaTeX thousands separators: 15{,}000


@dataclass(frozen=True, slots=True)
class Number:
    """One number read from text: its exact value, the span as written, and whether it had %."""

    value: Fraction
    text: str
    percent: bool = False


def fold(text: str) -> str:
    """ASCII digits and minus signs: full-width digits (NFKC) and Unicode minus signs folded.

    Each character is folded on its own, and one whose NFKC form is longer than
    ``MAX_FOLD_GROWTH`` characters stays as it is: NFKC of the whole text would turn a
    megabyte of U+FDFA into 18 megabytes that every later pass then reads.
    """
    if text.isascii():
        return text
    return _NON_ASCII_RUN.sub(_fold_run, text).translate(_MINUS)


def _fold_run(m: re.Match[str]) -> str:
    return "".join(_fold_char(ch) for ch in m.group())


@functools.lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch)
    return folded if len(folded) <= MAX_FOLD_GROWTH else ch


def _digits_ok(*parts: str | None) -> bool:
    return sum(len(p) for p in parts if p) <= MAX_NUMBER_DIGITS


def _read(match: re.Match[str]) -> Number | None:
    whole, dec, exp, den = match.group("int"), match.group("dec"), match.group("exp"), match.group("den")
    if whole is None and dec is None:
        return None
    if den is not None and (dec is not None or exp is not None):
        return None  # "1.5/2" or "1e3/4" is not a simple fraction: read nothing rather than guess
    if not _digits_ok(whole, dec, den, exp):
        return None
    value = Fraction((whole or "0").replace(",", "") + (dec or ""))
    if exp is not None:
        if abs(int(exp)) > MAX_EXPONENT:
            return None
        value *= Fraction(10) ** int(exp)
    if den is not None:
        if int(den) == 0:
            return None
        value /= int(den)
    if match.group("sign") == "-":
        value = -value
    return Number(value, match.group(0).strip(), match.group("pct") is not None)


def _fraction(m: re.Match[str]) -> Number | None:
    num, den, whole = m.group("num"), m.group("den"), m.groupdict().get("whole")
    if not _digits_ok(num, den, whole) or int(den) == 0:
        return None
    value = Fraction(int(num), int(den)) + (int(whole) if whole is not None else 0)
    return Number(-value if m.group("sign") else value, m.group(0).strip())


def _candidates(text: str) -> list[tuple[int, re.Match[str], bool]]:
    """Number-shaped matches in order: (start, match, is_fraction); read lazily by the callers,
    so a text of 100,000 numbers costs one regex pass, not 100,000 Fractions."""
    if "{" in text or "\\" in text:
        text = _GROUPED.sub(",", text)
    fractions = sorted(
        ((m.start(), m.end(), m) for pattern in (_FRAC, _MIXED) for m in pattern.finditer(text)),
        key=lambda t: t[0],
    )
    found: list[tuple[int, re.Match[str], bool]] = [(a, m, True) for a, _, m in fractions]
    starts = [a for a, _, _ in fractions]
    for m in _NUMBER.finditer(text):
        if m.end() == m.start():
            continue
        k = bisect.bisect_right(starts, m.start()) - 1
        if k >= 0 and m.start() < fractions[k][1]:
            continue  # inside a fraction already read
        found.append((m.start(), m, False))
    found.sort(key=lambda t: t[0])
    return found


def _number(m: re.Match[str], is_fraction: bool) -> Number | None:
    return _fraction(m) if is_fraction else _read(m)


def first_number(text: str) -> Number | None:
    """The first number in ``text``.

    The three patterns are merged lazily by position, so the cost is that of the text up to the
    first number, not of every number in it (``"1 "`` x 500,000 would build 500,000 matches).
    """
    if len(text) <= SHORT_TEXT:
        for _, m, is_fraction in _candidates(text):  # a short text: one list is cheaper than the lazy merge
            number = _number(m, is_fraction)
            if number is not None:
                return number
        return None
    text = _GROUPED.sub(",", text)
    fractions = heapq.merge(
        ((m.start(), 0, m) for m in _FRAC.finditer(text)),
        ((m.start(), 0, m) for m in _MIXED.finditer(text)),
        key=lambda t: t[0],
    )
    numbers = ((m.start(), 1, m) for m in _NUMBER.finditer(text) if m.end() > m.start())
    covered = -1
    for start, kind, m in heapq.merge(fractions, numbers, key=lambda t: (t[0], t[1])):
        if kind == 0:
            covered = max(covered, m.end())
            number = _fraction(m)
        elif start < covered:
            continue  # inside a fraction already read
        else:
            number = _read(m)
        if number is not None:
            return number
    return None


def last_number(text: str) -> Number | None:
    """The last number in ``text``."""
    if len(text) > 4 * TAIL_CHARS:
        # read the tail first, cut at a line or word break so no number is split
        cut = max(text.rfind("\n", 0, len(text) - TAIL_CHARS), text.rfind(" ", 0, len(text) - TAIL_CHARS))
        if cut <= 0:  # no break at all ("1,1,1,..."): cut anywhere and skip the token cut in two
            run = _NUMBER_CHARS.match(text, len(text) - TAIL_CHARS)
            if run is None or run.end() == len(text):  # all number characters: skip just the digits
                run = _DIGITS.match(text, len(text) - TAIL_CHARS)
            cut = run.end() if run is not None else len(text) - TAIL_CHARS
        if cut > 0:
            found = last_number(text[cut:])
            if found is not None:
                return found
    for _, m, is_fraction in reversed(_candidates(text)):
        number = _number(m, is_fraction)
        if number is not None:
            return number
    return None


def boxed_contents(text: str) -> list[str]:
    """The contents of every ``\\boxed{...}`` (or ``\\fbox{...}``) whose braces close, in order.

    One pass pairs every brace, so ``\\boxed{`` repeated 100,000 times costs linear time.
    """
    starts = [m.end() for m in _BOX.finditer(text)]
    if not starts:
        return []
    closes: dict[int, int] = {}
    stack: list[int] = []
    for m in _BRACE.finditer(text, starts[0] - 1):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            closes[stack.pop()] = m.start()
    out = []
    for start in starts:
        end = closes.get(start - 1)
        if end is not None and end - start <= MAX_BOX_CHARS:
            out.append(text[start:end])
    return out


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) whose braces close."""
    boxes = boxed_contents(text)
    return boxes[-1] if boxes else None
