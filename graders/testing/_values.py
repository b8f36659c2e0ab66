"""Hypothesis strategies for the values that end up in items and outputs."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# Sizes of generated values: big enough to find bugs, small enough to keep examples readable.
MAX_WORDS = 6
MAX_FIELDS = 4
# An over-long adversarial output: large enough to expose quadratic work, small enough for CI.
HUGE_CHARS = 200_000

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def words(min_words: int = 1, max_words: int = MAX_WORDS) -> st.SearchStrategy[str]:
    """Plain text of ASCII words: a reference every text metric can score."""
    word = st.text(alphabet=_LETTERS + "0123456789", min_size=1, max_size=8)
    return st.lists(word, min_size=min_words, max_size=max_words).map(" ".join)


def symbols() -> st.SearchStrategy[str]:
    """Gene-like symbols (``TSC2``, ``BRCA1``): list_rank candidates."""
    return st.from_regex(r"\A[A-Z][A-Z0-9]{1,6}\Z")


def numbers() -> st.SearchStrategy[int | float]:
    """Numbers a numeric reference holds: integers and short decimals, both signs."""
    return st.one_of(
        st.integers(-10**6, 10**6),
        st.decimals(min_value=-10**4, max_value=10**4, places=2, allow_nan=False).map(float),
    )


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value, nested."""
    leaves: st.SearchStrategy[Any] = st.one_of(
        st.none(), st.booleans(), st.integers(-10**9, 10**9), st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    )
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=max_leaves,
    )


def flat_objects() -> st.SearchStrategy[dict[str, Any]]:
    """A reference object of a few fields with text, number and list values."""
    value = st.one_of(words(1, 3), st.integers(-1000, 1000), st.lists(symbols(), min_size=1, max_size=3, unique=True))
    keys = st.from_regex(r"\A[a-z][a-z_]{0,9}\Z")
    return st.dictionaries(keys, value, min_size=1, max_size=MAX_FIELDS)


def adversarial_text() -> st.SearchStrategy[str]:
    """Output text written to break graders: control and invisible characters, unbalanced markup,
    template syntax, JSON look-alikes, numbers in odd forms, very long and deeply nested text."""
    fixed = st.sampled_from(
        [
            "",
            " \n\t ",
            "\x00",
            "\u200b\u200e\ufeff",
            "{{item.answer}}",
            "{{sample.output_text}}",
            "\\boxed{",
            "\\boxed{\\boxed{}",
            "}}}{{{",
            "#### ",
            "####",
            "NaN",
            "inf",
            "-0",
            "1e308",
            "1e99999",
            "９９",
            "\u22123",
            "1,2,3,4",
            "null",
            "[]",
            "{}",
            '{"a": }',
            '"just a string"',
            "[" * 5000,
            "\\frac{" * 2000,
            "9" * 5000,
            "a" * HUGE_CHARS,
        ]
    )
    return st.one_of(fixed, st.text(max_size=60), json_values().map(lambda v: json.dumps(v, ensure_ascii=False)))


def near_miss_values(value: Any) -> list[Any]:
    """Values close to ``value`` but not equal to it: the outputs a grader must tell apart."""
    options: list[Any]
    if isinstance(value, bool) or value is None:
        return [not value, "true", 0, ""]
    if isinstance(value, int | float):
        return [value + 1, value - 1, value * 10 + 1, -value - 1, value + 0.5, str(value) + "0"]
    if isinstance(value, str):
        options = [value + "x", value.swapcase(), f" {value} ", value + value, "\u200b" + value]
        if len(value) > 1:
            options += [value[1:], value[:-1], value[::-1]]
        return [o for o in options if o != value] or [value + "x"]
    if isinstance(value, list):
        options = [[], list(reversed(value)), ["NOTAGENE", *value], value + value]
        if value:
            options += [value[1:], [str(value[0]).lower()]]
        return [o for o in options if o != value] or [[]]
    if isinstance(value, dict):
        keys = list(value)
        options = [{}, {**value, "unexpected_field": "x"}, {k: str(v) for k, v in value.items()}]
        if keys:
            options += [{k: v for k, v in value.items() if k != keys[0]}, {**value, keys[0]: None}]
        return [o for o in options if o != value] or [{}]
    return [None]


def wrong_type_values(value: Any) -> list[Any]:
    """Values of another JSON type than ``value``."""
    options: list[Any] = [None, True, 0, 2.5, "", "text", [], [value], {}, {"value": value}]
    return [o for o in options if type(o) is not type(value)]


def near_misses(value: Any) -> st.SearchStrategy[Any]:
    """A strategy over ``near_miss_values(value)``."""
    return st.sampled_from(near_miss_values(value))
