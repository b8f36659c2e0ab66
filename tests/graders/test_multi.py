"""multi: formula semantics over sub-grader keys, errors at compile time and at grade time."""

from __future__ import annotations

from typing import Any

import pytest
from graders_cases import check_case, load_cases

from graders import SpecError, compile_spec

CHILD = {"type": "string_check", "name": "c", "input": "{{sample.output_text}}", "reference": "x", "operation": "eq"}


@pytest.mark.parametrize("case", load_cases("test_multi"))
def test_documented_semantics(case: dict[str, Any]) -> None:
    check_case(case)


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        pytest.param("0.5*name + 0.5*argz", "unknown variable 'argz'", id="unknown-variable"),
        pytest.param("mean(name, args)", "unknown function 'mean'", id="unknown-function"),
        pytest.param("min + name", "function 'min' needs parentheses", id="function-without-call"),
        pytest.param("name +", "unexpected end of formula", id="dangling-operator"),
        pytest.param("(name + args", "expected ')'", id="unbalanced-parenthesis"),
        pytest.param("name + args)", "unexpected ')'", id="extra-parenthesis"),
        pytest.param("name ** 2", "unexpected '*'", id="python-power-is-not-allowed"),
        pytest.param("name; import os", "unexpected character ';'", id="no-python"),
        pytest.param("abs(name, args)", "abs() takes 1 argument", id="wrong-arity"),
        pytest.param("", "empty formula", id="empty"),
        # Long chains: each used to raise RecursionError (in the parser, or in Python's compiler).
        pytest.param("name^" * 500 + "name", "nested deeper than 100", id="power-chain"),
        pytest.param("name+" * 1000 + "name", "more than 256 operations nested", id="sum-chain"),
        pytest.param("name*" * 1500 + "name", "more than 256 operations nested", id="product-chain"),
    ],
)
def test_bad_formula_is_a_spec_error_with_path(formula: str, message: str) -> None:
    spec = {"type": "multi", "name": "m", "graders": {"name": CHILD, "args": CHILD}, "calculate_output": formula}
    with pytest.raises(SpecError) as info:
        compile_spec(spec)
    assert info.value.path == ("calculate_output",)
    assert "formula_parse_error" in str(info.value) and message in str(info.value)


def test_long_but_reasonable_formulas_still_compile() -> None:
    spec = {"type": "multi", "graders": {"name": CHILD}, "calculate_output": "+".join(["name"] * 200)}
    assert compile_spec(spec).grade("x", {}).value == 200.0
    nested = {**spec, "calculate_output": "-" * 50 + "name^" * 49 + "name"}
    assert compile_spec(nested).grade("x", {}).value == 1.0


def test_unknown_variable_suggests_the_closest_key() -> None:
    spec = {"type": "multi", "graders": {"name": CHILD, "args": CHILD}, "calculate_output": "name + argz"}
    with pytest.raises(SpecError, match=r"did you mean 'args'\? \(graders: name, args\)"):
        compile_spec(spec)


def test_child_spec_error_names_the_child_path() -> None:
    spec = {"type": "multi", "graders": {"answer": {**CHILD, "input": "{{output_text}}"}}, "calculate_output": "answer"}
    with pytest.raises(SpecError) as info:
        compile_spec(spec)
    assert "at graders.answer.input" in str(info.value)
    assert info.value.path == ("graders", "answer", "input")


def test_item_fields_are_the_union_of_the_children() -> None:
    child = {**CHILD, "reference": "{{item.answer.text}}"}
    other = {**CHILD, "input": "{{item.other}}"}
    grader = compile_spec({"type": "multi", "graders": {"a": child, "b": other}, "calculate_output": "a + b"})
    assert grader.item_fields == {"answer", "other"}
