"""instructions: every IFEval constraint with a following and a violating response (written from the paper)."""

from __future__ import annotations

from typing import Any

import pytest

from graders import SpecError, compile_spec
from graders._errors import ErrorKind

# (id, args, a response that follows, a response that violates)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "length_constraints:number_words",
        {"relation": "at least", "num_words": 5},
        "one two three four five",
        "one two three four",
    ),
    ("length_constraints:number_words", {"relation": "less than", "num_words": 3}, "two words", "now three words"),
    (
        "length_constraints:number_sentences",
        {"relation": "less than", "num_sentences": 3},
        "First. Second!",
        "One. Two? Three.",
    ),
    (
        "length_constraints:number_paragraphs",
        {"num_paragraphs": 2},
        "First part.\n***\nSecond part.",
        "First part.\n***\n\n***\nSecond part.",
    ),
    ("keywords:existence", {"keywords": ["Paris", "river"]}, "The river Seine crosses paris.", "Paris is nice."),
    ("keywords:forbidden_words", {"forbidden_words": ["bad"]}, "A badge is fine.", "That is Bad news."),
    ("keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "at least"}, "cat and Cat", "one cat"),
    (
        "keywords:letter_frequency",
        {"letter": "z", "let_frequency": 2, "let_relation": "less than"},
        "a zebra",
        "Zebra zoo",
    ),
    (
        "language:response_language",
        {"language": "de"},
        "Das ist eine kurze Antwort auf Deutsch, die ziemlich klar ist.",
        "This is a short answer in English which is quite clear.",
    ),
    ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', "{'a': 1}"),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n- two", "* one\n* two\n* three"),
    (
        "detectable_format:number_highlighted_sections",
        {"num_highlights": 2},
        "*first* and **second**",
        "*first* and ** **",
    ),
    ("detectable_format:title", {}, "<<My Poem>>\nRoses are red.", "<< >>\nRoses are red."),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hello.\n\nP.S. see you", "Hello.\nPS see you"),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name] at [address]", "Dear [name]"),
    (
        "startend:end_checker",
        {"end_phrase": "Any other questions?"},
        "Done. Any other questions?  ",
        "Any other questions? Done.",
    ),
    ("startend:start_checker", {"start_phrase": "My answer is"}, "  my answer is yes", "Yes, my answer is yes"),
    ("startend:quotation", {}, '"wrapped in quotes"', '"only opened'),
    ("change_case:english_lowercase", {}, "all lower case here", "Not all lower"),
    ("change_case:english_capital", {}, "ALL CAPITALS HERE", "ALL CAPITALS, nearly"),
    ("punctuation:no_comma", {}, "No commas at all.", "One, comma."),
]


@pytest.mark.parametrize(
    ("instruction", "args", "follows", "violates"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_constraint_has_a_following_and_a_violating_response(
    instruction: str, args: dict[str, Any], follows: str, violates: str
) -> None:
    grader = compile_spec({"type": "instructions", "constraints": [{"id": instruction, **args}]})
    good, bad = grader.grade(follows), grader.grade(violates)
    assert (good.value, bad.value) == (1.0, 0.0), (good.details, bad.details)
    assert good.details["constraints"][0]["followed"] is True and good.details["constraints"][0]["id"] == instruction


def test_every_checker_is_covered() -> None:
    from graders._constraints import CHECKERS

    assert {c[0] for c in CASES} == set(CHECKERS)


def test_fraction_all_and_templated_arguments() -> None:
    constraints = [
        {"id": "punctuation:no_comma"},
        {"id": "length_constraints:number_words", "relation": "at least", "num_words": "{{item.n}}"},
    ]
    fraction = compile_spec({"type": "instructions", "constraints": constraints})
    strict_all = compile_spec({"type": "instructions", "constraints": constraints, "scoring": "all"})
    assert fraction.grade("three short words", {"n": 5}).value == 0.5
    assert strict_all.grade("three short words", {"n": 5}).value == 0.0
    assert strict_all.grade("three short words", {"n": "3"}).value == 1.0
    assert fraction.item_fields == {"n"}


def test_loose_accepts_the_response_without_its_first_line_or_markdown() -> None:
    constraints = [{"id": "startend:quotation"}, {"id": "change_case:english_lowercase"}]
    spec = {"type": "instructions", "constraints": constraints}
    text = 'Sure! Here it is:\n"**all** lower case"'
    assert compile_spec(spec).grade(text).value == 0.0
    loose = compile_spec({**spec, "mode": "loose"}).grade(text)
    assert loose.value == 1.0 and loose.details["mode"] == "loose"


def test_constraints_from_the_item_and_unusable_ones() -> None:
    grader = compile_spec({"type": "instructions", "constraints": "{{item.constraints}}"})
    row = {"constraints": [{"id": "keywords:existence", "keywords": ["yes"]}, {"id": "detectable_format:title"}]}
    assert grader.grade("<<T>> yes", row).value == 1.0
    for bad in ([{"id": "nope"}], [{"id": "punctuation:no_comma", "extra": 1}], "text", []):
        score = grader.grade("x", {"constraints": bad})
        assert score.error is not None and score.error.kind == ErrorKind.REFERENCE_PARSE_ERROR, bad


@pytest.mark.parametrize(
    ("constraint", "where"),
    [
        ({"id": "punctuation:no_coma"}, "constraints[0].id"),
        ({"id": "keywords:frequency", "keyword": "a", "frequency": 1, "relation": "most"}, "constraints[0]"),
        ({"id": "length_constraints:number_words", "relation": "at least"}, "constraints[0]"),
    ],
)
def test_spec_errors_name_the_constraint(constraint: dict[str, Any], where: str) -> None:
    with pytest.raises(SpecError) as info:
        compile_spec({"type": "instructions", "constraints": [constraint]})
    assert where in str(info.value)
