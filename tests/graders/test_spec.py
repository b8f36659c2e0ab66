"""Every registered kind: round-trip, schema, examples; spec errors name the JSON path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from graders import SpecError, compile_spec, json_schema, kinds, load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.json"))

# Minimal specs for kinds whose model carries no schema example yet (their compile is not
# available in this version); a kind with neither fails test_every_kind_has_an_example.
FALLBACK_EXAMPLES: dict[str, dict[str, Any]] = {
    "python": {
        "type": "python",
        "name": "non_empty",
        "source": "def grade(sample, item):\n    return 1.0 if sample['output_text'] else 0.0\n",
    },
}


def example_of(kind_type: str) -> dict[str, Any] | None:
    extra = kinds()[kind_type].spec_model.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    if examples:
        example: dict[str, Any] = examples[0]
        return example
    return FALLBACK_EXAMPLES.get(kind_type)


def test_every_kind_has_an_example() -> None:
    missing = [k for k in kinds() if example_of(k) is None]
    assert not missing, f"give these kinds json_schema_extra={{'examples': [...]}}: {missing}"


@pytest.mark.parametrize("kind_type", sorted(kinds()))
def test_round_trip(kind_type: str) -> None:
    """spec -> parse (and compile, where the kind compiles) -> to_json() gives the same JSON."""
    example = example_of(kind_type)
    assert example is not None
    assert parse_spec(example).to_json() == example
    assert json.loads(json.dumps(parse_spec(example).to_json())) == example
    try:
        grader = compile_spec(example)
    except SpecError as exc:
        assert "not available yet" in str(exc), exc
        return
    with grader:
        assert grader.spec.to_json() == example
        assert grader.spec.type == kind_type


@pytest.mark.parametrize("kind_type", sorted(kinds()))
def test_schema_covers_the_kind(kind_type: str) -> None:
    schema = json_schema()
    mapping = schema["discriminator"]["mapping"]
    assert kind_type in mapping
    definition = schema["$defs"][mapping[kind_type].split("/")[-1]]
    assert definition["properties"]["type"]["const"] == kind_type
    assert definition.get("additionalProperties") is False
    example = example_of(kind_type)
    assert example is not None and set(example) <= set(definition["properties"])


def test_schema_file_is_in_sync() -> None:
    """specs/grader.schema.json is what `rftkit schema` prints: regenerate it when a spec changes."""
    on_disk = json.loads((ROOT / "specs" / "grader.schema.json").read_text(encoding="utf-8"))
    assert on_disk == json_schema(), "run: rftkit schema > specs/grader.schema.json"


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_shipped_specs_validate(path: Path) -> None:
    if path.name == "grader.schema.json":
        return
    with load_spec(path) as grader:
        assert grader.spec.to_json() == json.loads(path.read_text(encoding="utf-8"))


CHECK = {"type": "string_check", "name": "a", "input": "{{sample.output_text}}", "reference": "x", "operation": "eq"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            {"type": "multi", "graders": {"answer": {**CHECK, "type": "string_chek"}}, "calculate_output": "answer"},
            "unknown grader type 'string_chek' at graders.answer.type; did you mean 'string_check'? (known: ",
            id="unknown-kind-nested",
        ),
        pytest.param(
            {**CHECK, "type": "strng_check"},
            "unknown grader type 'strng_check' at type; did you mean",
            id="unknown-kind-top",
        ),
        pytest.param({"name": "x"}, "missing grader type at type", id="no-type"),
        pytest.param(
            {**CHECK, "operaton": "eq"},
            "unknown field 'operaton' at operaton; did you mean 'operation'?",
            id="misspelt-field",
        ),
        pytest.param(
            {k: v for k, v in CHECK.items() if k != "reference"},
            "missing required field at reference",
            id="missing-field",
        ),
        pytest.param(
            {**CHECK, "operation": "equals"}, "invalid value 'equals' at operation; expected", id="bad-literal"
        ),
        pytest.param({**CHECK, "operation": "neq"}, "did you mean 'ne'?", id="neq-is-not-ne"),
        pytest.param(
            {"type": "multi", "graders": {"a": CHECK}, "calculate_output": "a +* 2"},
            "formula_parse_error",
            id="bad-formula",
        ),
        pytest.param(
            {"type": "multi", "graders": {"a": {**CHECK, "reference": "{{itm.x}}"}}, "calculate_output": "a"},
            "at graders.a.reference",
            id="bad-template-nested",
        ),
        pytest.param(
            {"type": "multi", "graders": {"a": {**CHECK, "operaton": "eq"}}, "calculate_output": "a"},
            "unknown field 'operaton' at graders.a.operaton",
            id="misspelt-field-nested",
        ),
        pytest.param(
            {"type": "field_match", "reference": "{{item.r}}", "fields": {"name": {"treshold": 0.8}}},
            "unknown field 'treshold' at fields.name.treshold; did you mean 'threshold'? "
            "(valid: abs_tol, compare, rel_tol, threshold, weight)",
            id="misspelt-option-in-a-dict-of-rules",
        ),
        pytest.param(
            {"type": "score_model", "model": "m", "input": [{"role": "user", "content": "hi"}],
             "sampling_params": {"temprature": 0}},
            "unknown field 'temprature' at sampling_params.temprature; did you mean 'temperature'? (valid: ",
            id="misspelt-sampling-param",
        ),
        pytest.param(
            {"type": "multi", "calculate_output": "j", "graders": {"j": {
                "type": "label_model", "model": "m", "labels": ["a"], "passing_labels": ["a"],
                "input": [{"role": "user", "content": {"type": "input_text", "txt": "hi"}}]}}},
            "unknown field 'txt' at graders.j.input[0].content.txt; did you mean 'text'? (valid: text, type)",
            id="misspelt-field-in-a-union-inside-a-nested-spec",
        ),
        pytest.param(
            {"type": "label_model", "model": "m", "labels": ["a"], "passing_labels": ["a"],
             "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "u", "detial": "low"}]}]},
            "unknown field 'detial' at input[0].content[0].detial; did you mean 'detail'? "
            "(valid: detail, image_url, type)",
            id="misspelt-field-of-the-union-member-the-type-names",
        ),
    ],
)
def test_spec_errors_name_the_path(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as info:
        compile_spec(spec)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_spec_must_be_an_object() -> None:
    with pytest.raises(SpecError, match="must be a JSON object"):
        compile_spec([CHECK])  # type: ignore[arg-type]


def test_load_spec_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(SpecError, match="bad.json is not valid JSON"):
        load_spec(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**CHECK, "operation": "equals"}), encoding="utf-8")
    with pytest.raises(SpecError, match=r"wrong\.json: invalid value 'equals' at operation"):
        load_spec(wrong)
