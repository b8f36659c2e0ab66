"""Shapes the hosted API and the openai SDK accept, which rftkit must compile the same way:
audio parts, evals-only fields, the SDK's reasoning efforts, plain strings in content lists,
SDK grader objects and their ``model_dump()``, the hosted judge's sampling defaults."""

from __future__ import annotations

import itertools
import typing
from typing import Any

import judge_support
import pytest
from openai.types import graders as sdk
from openai.types.shared import ReasoningEffort

from graders import (
    HOSTED_ERROR_FLAGS,
    ErrorKind,
    SandboxLimits,
    Score,
    SpecError,
    compile_spec,
    hosted_errors,
    parse_spec,
)
from graders.testing.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.usefixtures("isolated_settings")
score_spec = judge_support.score_spec


def _sdk_efforts() -> list[str]:
    (literal,) = [arg for arg in typing.get_args(ReasoningEffort) if arg is not type(None)]
    return list(typing.get_args(literal))


# --- audio -----------------------------------------------------------------------------------


def test_audio_in_the_api_shape_reaches_the_judge(server: FakeOpenAIServer) -> None:
    part = {"type": "input_audio", "input_audio": {"data": "{{item.clip}}", "format": "mp3"}}
    spec = score_spec(server, input=[{"role": "user", "content": [part, "Is the speaker calm?"]}])
    with compile_spec(spec) as grader:
        assert grader.grade("x", {"clip": "SUQzBA=="}).error is None
    (request,) = server.chat_requests
    audio = {"type": "input_audio", "input_audio": {"data": "SUQzBA==", "format": "mp3"}}
    assert request.messages[0]["content"][0] == audio


def test_audio_in_the_old_flat_shape_is_rejected_with_its_path(server: FakeOpenAIServer) -> None:
    part = {"type": "input_audio", "data": "SUQzBA==", "format": "mp3"}
    with pytest.raises(SpecError) as info:
        compile_spec(score_spec(server, input=[{"role": "user", "content": [part]}]))
    assert "input[0].content[0]" in str(info.value)


def test_an_audio_template_error_names_the_nested_path(server: FakeOpenAIServer) -> None:
    part = {"type": "input_audio", "input_audio": {"data": "{{ itme.clip }}", "format": "wav"}}
    with pytest.raises(SpecError) as info:
        compile_spec(score_spec(server, input=[{"role": "user", "content": [part]}]))
    assert info.value.path == ("input", 0, "content", 0, "input_audio", "data")


# --- fields from the hosted evals API -----------------------------------------------------------


def test_pass_threshold_on_python_sets_passed_only() -> None:
    source = "def grade(sample, item):\n    return float(sample['output_text'])\n"
    spec = {"type": "python", "name": "p", "source": source, "pass_threshold": 0.5}
    with compile_spec(spec, trusted=True) as grader:
        high, low = grader.grade("0.7"), grader.grade("0.2")
    assert (high.value, high.passed) == (0.7, True)
    assert (low.value, low.passed) == (0.2, False)
    assert compile_spec(spec, trusted=True).spec.to_json() == spec


def test_the_server_assigned_id_of_a_testing_criterion_compiles_and_round_trips() -> None:
    criterion = {
        "type": "string_check",
        "name": "exact",
        "id": "exact-8c1f0d8e-5b1d-4a57-9d1e-3c2a8f9e6b10",
        "input": "{{sample.output_text}}",
        "reference": "{{item.answer}}",
        "operation": "eq",
    }
    grader = compile_spec(criterion)
    assert grader.grade("a", {"answer": "a"}).value == 1.0
    assert grader.spec.to_json() == criterion


# --- reasoning effort --------------------------------------------------------------------------


@pytest.mark.parametrize("effort", _sdk_efforts())
def test_every_reasoning_effort_of_the_sdk_compiles(server: FakeOpenAIServer, effort: str) -> None:
    compile_spec(score_spec(server, sampling_params={"reasoning_effort": effort})).close()


def test_an_unknown_reasoning_effort_lists_the_sdk_values(server: FakeOpenAIServer) -> None:
    with pytest.raises(SpecError) as info:
        compile_spec(score_spec(server, sampling_params={"reasoning_effort": "hihg"}))
    message = str(info.value)
    assert "sampling_params.reasoning_effort" in message and "did you mean 'high'" in message
    assert all(repr(effort) in message for effort in _sdk_efforts())


# --- SDK objects ---------------------------------------------------------------------------------


SDK_GRADERS: list[Any] = [
    sdk.StringCheckGrader(type="string_check", name="s", input="{{sample.output_text}}", reference="a", operation="eq"),
    sdk.TextSimilarityGrader(
        type="text_similarity", name="t", input="{{sample.output_text}}", reference="a", evaluation_metric="fuzzy_match"
    ),
    sdk.PythonGrader(type="python", name="p", source="def grade(sample, item):\n    return 1.0\n"),
    sdk.ScoreModelGrader(
        type="score_model",
        name="m",
        model="judge-m",
        input=[sdk.score_model_grader.Input(role="user", content="Grade {{sample.output_text}}")],
    ),
    sdk.LabelModelGrader(
        type="label_model",
        name="l",
        model="judge-m",
        input=[sdk.label_model_grader.Input(role="user", content="Label {{sample.output_text}}")],
        labels=["a", "b"],
        passing_labels=["a"],
    ),
]


@pytest.mark.parametrize("obj", SDK_GRADERS, ids=lambda g: g.type)
def test_an_sdk_grader_object_compiles_as_it_is(obj: Any) -> None:
    spec = parse_spec(obj)
    assert spec.type == obj.type and spec.name == obj.name
    compile_spec(obj).close()


@pytest.mark.parametrize("obj", SDK_GRADERS, ids=lambda g: g.type)
def test_the_model_dump_of_an_sdk_grader_with_its_nulls_compiles(obj: Any) -> None:
    dumped = obj.model_dump()
    if obj.type in ("python", "score_model"):
        assert None in _leaves(dumped)  # their unset optional fields are written as null
    compile_spec(dumped).close()


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_the_sdk_multi_grader_holding_one_grader_says_how_to_fix_it() -> None:
    child = SDK_GRADERS[0]
    multi = sdk.MultiGrader(type="multi", name="m", calculate_output="s", graders=child)
    with pytest.raises(SpecError) as info:
        compile_spec(multi)
    assert info.value.path == ("graders",)
    assert "a single grader" in str(info.value) and "keyed by the formula's variable names" in str(info.value)


# --- sampling defaults ---------------------------------------------------------------------------

_COUNTER = itertools.count()


def _sent(server: FakeOpenAIServer, spec: dict[str, Any]) -> dict[str, Any]:
    server.reset()
    with compile_spec(spec) as grader:  # a new sample each time: a cached reply sends nothing
        assert grader.grade(f"x{next(_COUNTER)}", {"reference": "y"}).error is None
    (request,) = server.chat_requests
    body: dict[str, Any] = request.body
    return {k: body.get(k, "unsent") for k in ("temperature", "top_p", "max_completion_tokens", "seed")}


def test_unset_sampling_params_get_the_hosted_defaults(server: FakeOpenAIServer) -> None:
    expected = {"temperature": 1.0, "top_p": 1.0, "max_completion_tokens": 4096, "seed": "unsent"}
    assert _sent(server, score_spec(server)) == expected
    assert _sent(server, score_spec(server, sampling_params=None)) == expected
    partial = _sent(server, score_spec(server, sampling_params={"temperature": 0, "seed": 3}))
    assert partial == {"temperature": 0, "top_p": 1.0, "max_completion_tokens": 4096, "seed": 3}


def test_null_sampling_params_are_left_to_the_server(server: FakeOpenAIServer) -> None:
    params = {"temperature": None, "top_p": None, "max_completions_tokens": None}
    sent = _sent(server, score_spec(server, sampling_params=params))
    assert sent == dict.fromkeys(("temperature", "top_p", "max_completion_tokens", "seed"), "unsent")


# --- the hosted error flags ----------------------------------------------------------------------


def test_every_hosted_flag_target_is_a_flag_of_the_sdk_response() -> None:
    from openai.types.fine_tuning.alpha.grader_run_response import MetadataErrors

    fields = {field.alias or name for name, field in MetadataErrors.model_fields.items()}
    for kind, (flag, detail) in HOSTED_ERROR_FLAGS.items():
        assert flag in fields, kind
        assert detail is None or detail in fields, kind
    assert set(hosted_errors(Score(1.0))) == fields


def test_a_multi_score_raises_the_flag_of_every_failed_part() -> None:
    multi = {
        "type": "multi",
        "name": "m",
        "calculate_output": "a + b",
        "graders": {
            "a": {"type": "string_check", "name": "a", "input": "{{item.gone}}", "reference": "x", "operation": "eq"},
            "b": {"type": "string_check", "name": "b", "input": "{{sample.output_json.k}}", "reference": "", "operation": "eq"},  # noqa: E501,
        },
    }
    errors = hosted_errors(compile_spec(multi).grade("not json", {}))
    assert errors["invalid_variable_error"] and errors["sample_parse_error"]
    assert not errors["other_error"]


def test_every_error_kind_has_a_hosted_flag() -> None:
    assert set(HOSTED_ERROR_FLAGS) == set(ErrorKind)


def test_a_kind_outside_the_table_counts_as_other_error() -> None:
    errors = hosted_errors(Score.failure("some_future_kind", "x"))
    assert [flag for flag, value in errors.items() if value is True] == ["other_error"]


# --- the hosted python environment ---------------------------------------------------------------


def _python(source: str, **extra: Any) -> dict[str, Any]:
    return {"type": "python", "name": "p", "source": source, **extra}


def test_a_missing_hosted_package_names_the_package_and_the_extra() -> None:
    # The message CPython gives for `import skbio` where scikit-bio is not installed.
    source = "def grade(sample, item):\n    raise ModuleNotFoundError(\"No module named 'skbio'\", name='skbio')\n"
    with compile_spec(_python(source)) as grader:
        score = grader.grade("x")
    assert score.error is not None and score.error.kind == "python_grader_runtime_error"
    assert "scikit-bio" in score.error.message and "pip install 'rftkit[hosted-python]'" in score.error.message


def test_a_missing_package_outside_the_hosted_image_says_so() -> None:
    source = "import rftkit_no_such_module\n\ndef grade(sample, item):\n    return 1.0\n"
    with compile_spec(_python(source)) as grader:
        score = grader.grade("x")
    assert score.error is not None
    assert "rftkit_no_such_module is not installed here, and was not in the hosted sandbox image" in score.error.message


def test_python_limits_default_to_the_hosted_ones_and_the_spec_and_the_run_override_them() -> None:
    from graders._kinds.python import HOSTED_LIMITS

    source = "def grade(sample, item):\n    return 1.0\n"
    assert (HOSTED_LIMITS.timeout_s, HOSTED_LIMITS.memory_mb) == (120.0, 2048)
    with compile_spec(_python(source)) as grader:
        assert grader.pool.limits == HOSTED_LIMITS
    with compile_spec(_python(source, timeout_s=5, memory_mb=512)) as grader:
        assert (grader.pool.limits.timeout_s, grader.pool.limits.memory_mb) == (5, 512)
    run_limits = SandboxLimits(timeout_s=2.0)
    multi = {"type": "multi", "name": "m", "calculate_output": "a", "graders": {"a": _python(source, timeout_s=5)}}
    with compile_spec(multi, sandbox_limits=run_limits) as grader:
        assert grader.children["a"].pool.limits == run_limits


def test_a_spec_timeout_stops_a_hanging_grader() -> None:
    source = "def grade(sample, item):\n    while True:\n        pass\n"
    with compile_spec(_python(source, timeout_s=0.5)) as grader:
        score = grader.grade("x")
    assert score.error is not None and score.error.kind == "python_grader_timeout"


def test_image_tag_is_recorded_and_an_unknown_one_warns() -> None:
    source = "def grade(sample, item):\n    return 1.0\n"
    with compile_spec(_python(source, image_tag="2025-05-08"), trusted=True) as grader:
        assert grader.grade("x").details["image_tag"] == "2025-05-08"
    with pytest.warns(UserWarning, match="unknown image_tag '2031-01-01'"):
        grader = compile_spec(_python(source, image_tag="2031-01-01"), trusted=True)
    assert grader.grade("x").details["image_tag"] == "2031-01-01"


def test_the_hosted_python_extra_holds_the_packages_the_hint_names() -> None:
    import tomllib
    from pathlib import Path

    from graders._kinds.python import HOSTED_PACKAGES

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    extra = pyproject["project"]["optional-dependencies"]["hosted-python"]
    pinned = {requirement.split("==")[0] for requirement in extra}
    assert all("==" in requirement for requirement in extra)
    assert pinned == set(HOSTED_PACKAGES.values()) - {"pydantic"}  # pydantic: a core dependency


def test_checking_reasoning_effort_does_not_import_the_openai_client() -> None:
    import json
    import subprocess
    import sys

    spec = {
        "type": "score_model",
        "name": "j",
        "model": "m",
        "input": [{"role": "user", "content": "x"}],
        "sampling_params": {"reasoning_effort": "xhigh"},
    }
    code = f"import sys, graders; graders.compile_spec({json.dumps(spec)}).close(); print('openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"
