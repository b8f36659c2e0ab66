"""Rewrites of MATH-500 reference answers: equivalent forms and non-equivalent mutations.

Each rewrite is ``(rule, text)``. Equivalent rules only change spelling (``\\dfrac``, spacing,
``\\left(``, ``a/b``, decimals of terminating fractions, reordered sets, a boxed chain of
thought, degrees written three ways, ``x =`` prefixes). Non-equivalent rules change the value
(a digit, the sign, the order of a tuple, a dropped set element, a bracket of an interval).
"""

from __future__ import annotations

import re
from fractions import Fraction

_SIMPLE_FRAC = re.compile(r"^(-?)\\frac\{(\d+)\}\{(\d+)\}$")
_ANY_FRAC = re.compile(r"\\frac\{([^{}]+)\}\{([^{}]+)\}")
_INTEGER = re.compile(r"^-?\d+$")
_DEGREES = re.compile(r"^(\d+)\^\\circ$")
_TEXT = re.compile(r"^\\text\{([^{}]*)\}$")
_THOUSANDS = re.compile(r"^(?:\\\$)?\d{1,3}(?:,(?:\\!)? ?\d{3})+$")  # 58,500 and 10,\!080 are one number


def _top_commas(s: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return parts


def _terminating(value: Fraction) -> bool:
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    return den == 1


def equivalents(answer: str) -> list[tuple[str, str]]:
    """Forms of ``answer`` that any correct grader must accept."""
    out = [
        ("same", answer),
        ("boxed_cot", f"Let me work through it step by step. So the final answer is $\\boxed{{{answer}}}$."),
        ("answer_is", f"The answer is ${answer}$"),
    ]
    if not _THOUSANDS.match(answer):
        out.append(("spaced", answer.replace(",", " , ").replace("+", " + ")))
    if "\\frac" in answer:
        if not re.search(r"\d\s*\\frac", answer):  # 1\frac{4}{5} is a mixed number: not (1)(4)/(5)
            out.append(("slash", _ANY_FRAC.sub(r"(\1)/(\2)", answer)))
        out.append(("dfrac", answer.replace("\\frac", "\\dfrac")))
    if "\\dfrac" in answer:
        out.append(("undfrac", answer.replace("\\dfrac", "\\frac")))
    if "\\left" not in answer and answer[:1] in "([" and answer[-1:] in ")]":
        out.append(("left_right", f"\\left{answer[0]}{answer[1:-1]}\\right{answer[-1]}"))
    frac = _SIMPLE_FRAC.match(answer)
    if frac:
        value = Fraction(int(frac.group(2)), int(frac.group(3))) * (-1 if frac.group(1) else 1)
        out.append(("a/b", f"{frac.group(1)}{frac.group(2)}/{frac.group(3)}"))
        if _terminating(value):
            out.append(("decimal", f"{float(value):.12g}"))
    if _INTEGER.match(answer):
        out.append(("x_equals", f"x = {answer}"))
        out.append(("point_zero", f"{answer}.0"))
        out.append(("dollar_math", f"${answer}$"))
    degrees = _DEGREES.match(answer)
    if degrees:
        out.append(("no_degrees", degrees.group(1)))
        out.append(("degree_sign", f"{degrees.group(1)}°"))
        out.append(("circ_braced", f"{degrees.group(1)}^{{\\circ}}"))
    text = _TEXT.match(answer)
    if text:
        out.append(("bare_text", text.group(1)))
    if _THOUSANDS.match(answer):
        return out
    parts = _top_commas(answer)
    if len(parts) > 1 and answer[:1] not in "([":
        out.append(("reordered", ",".join(reversed(parts))))
        out.append(("as_set", "\\{" + ",".join(reversed(parts)) + "\\}"))
    if answer.startswith("\\{") and answer.endswith("\\}"):
        inner = _top_commas(answer[2:-2])
        out.append(("reordered_set", "\\{" + ", ".join(reversed(inner)) + "\\}"))
    return out


def non_equivalents(answer: str, other: str) -> list[tuple[str, str]]:
    """Forms of ``answer`` with another value; ``other`` is a different reference answer."""
    out: list[tuple[str, str]] = [("other_answer", f"The answer is $\\boxed{{{other}}}$")]
    digit = re.search(r"\d", answer)
    if digit:
        d = int(digit.group())
        out.append(("digit", answer[: digit.start()] + str((d + 1) % 10) + answer[digit.end() :]))
    if _INTEGER.match(answer):
        n = int(answer)
        out.append(("plus_one", str(n + 1)))
        if n != 0:
            out.append(("times_ten", str(n * 10)))
            out.append(("negated", str(-n)))
        out.append(("suffix_digit", f"{answer}5"))  # never "5" for "25": no text fallback
    parts = _top_commas(answer[1:-1]) if answer[:1] in "([" and answer[-1:] in ")]" else []
    if len(parts) > 1 and len(set(p.strip() for p in parts)) > 1:
        out.append(("tuple_swapped", answer[0] + ",".join(reversed(parts)) + answer[-1]))
    if len(parts) == 2:
        flipped = {"(": "[", "[": "("}[answer[0]]
        out.append(("bracket", flipped + answer[1:]))
    items = _top_commas(answer)
    if len(items) > 1 and answer[:1] not in "([" and not _THOUSANDS.match(answer):
        out.append(("dropped", ",".join(items[:-1])))
    if _TEXT.match(answer):
        out.append(("text_changed", answer[:-1] + "x}"))
    return out


def other_answer(answers: list[str], i: int) -> str:
    """A reference answer of another problem that shares no text with ``answers[i]``
    (``x=5`` against ``5`` is the same answer, not a mutation)."""
    mine = re.sub(r"\W", "", answers[i])
    for step in range(1, len(answers)):
        other = answers[(i + step) % len(answers)]
        theirs = re.sub(r"\W", "", other)
        if mine not in theirs and theirs not in mine:
            return other
    raise ValueError("no distinct answer")
