"""trl_reward: TRL's reward signature, items, formats, errors, None, async, logging, pickling."""

from __future__ import annotations

import asyncio
import inspect
import pickle
from collections.abc import Mapping
from typing import Any

import pytest

from graders import Grader, Sample, Score, ScoreError, compile_spec
from rl_adapter import (
    AsyncTRLReward,
    DatasetMismatchError,
    MockBackend,
    TRLReward,
    check_dataset,
    completion_to_sample,
    trl_reward,
)


class Spy:
    """Collects what the reward function logs through TRL's log_metric."""

    def __init__(self) -> None:
        self.metrics: dict[str, list[float]] = {}

    def __call__(self, name: str, value: float) -> None:
        self.metrics.setdefault(name, []).append(value)


def call_like_trl(reward: Any, prompts: list[Any], completions: list[Any], **columns: list[Any]) -> Any:
    """Calls a reward function exactly as GRPOTrainer._calculate_rewards does (all by keyword)."""
    spy = Spy()
    out = reward(
        prompts=prompts,
        completions=completions,
        completion_ids=[[1, 2]] * len(completions),
        **columns,
        trainer_state=object(),
        log_extra=lambda column, values: None,
        log_metric=spy,
    )
    if inspect.isawaitable(out):
        out = asyncio.run(out)
    return out, spy.metrics


def test_every_column_reaches_the_grader_as_the_item() -> None:
    backend = MockBackend(lambda s, i: Score(1.0), item_fields=frozenset({"answer"}))
    reward = trl_reward(backend)
    call_like_trl(reward, ["p0", "p1"], ["a", "b"], answer=["x", "y"], extra=[1, 2])
    samples, items = backend.calls[0]
    assert [s.output_text for s in samples] == ["a", "b"]
    assert items == [{"answer": "x", "extra": 1, "prompt": "p0"}, {"answer": "y", "extra": 2, "prompt": "p1"}]


def test_standard_completions_are_graded(exact: Grader) -> None:
    rewards, _ = call_like_trl(trl_reward(exact), ["q"] * 3, ["4", "5", " 4"], answer=["4", "4", "4"])
    assert rewards == [1.0, 0.0, 0.0]


def test_conversational_completions_use_the_last_assistant_message(exact: Grader) -> None:
    completions = [
        [{"role": "assistant", "content": "4"}],
        [{"role": "assistant", "content": [{"type": "text", "text": "4"}]}],
        [{"role": "assistant", "content": "3"}],
    ]
    prompts = [[{"role": "user", "content": "2+2?"}]] * 3
    rewards, _ = call_like_trl(trl_reward(exact), prompts, completions, answer=["4"] * 3)
    assert rewards == [1.0, 1.0, 0.0]


def test_tool_calls_become_output_tools() -> None:
    call = {"type": "function", "function": {"name": "f", "arguments": "{}"}}
    sample = completion_to_sample([{"role": "assistant", "content": None, "tool_calls": [call]}])
    assert sample.output_text == "" and sample.output_tools == [call]


def test_errors_map_to_error_value_and_are_counted_by_kind() -> None:
    spec = {"type": "string_check", "name": "js", "operation": "eq",
            "input": "{{sample.output_json.a}}", "reference": "{{item.answer}}"}
    reward = trl_reward(compile_spec(spec), error_value=-1.0)
    rewards, metrics = call_like_trl(reward, ["q"] * 3, ['{"a": "x"}', "not json", '{"b": 1}'], answer=["x"] * 3)
    assert rewards == [1.0, -1.0, -1.0]
    assert metrics["js/errors/sample_parse_error"] == [1.0]
    assert metrics["js/errors/invalid_variable_error"] == [1.0]
    assert reward.stats["errors"] == {"sample_parse_error": 1, "invalid_variable_error": 1}


def test_abstention_gives_none() -> None:
    def handler(sample: Sample, item: Mapping[str, Any]) -> Score:
        if item["answer"] is None:
            return Score(0.0, None, {}, ScoreError("reference_parse_error", "no reference"))
        return Score(1.0)

    reward = trl_reward(MockBackend(handler))
    rewards, metrics = call_like_trl(reward, ["q", "q"], ["a", "b"], answer=[None, "b"])
    assert rewards == [None, 1.0]
    assert metrics["mock/abstained"] == [1.0]


def test_a_grader_that_raises_scores_as_an_error_and_training_goes_on() -> None:
    def handler(sample: Sample, item: Mapping[str, Any]) -> Score:
        if sample.output_text == "boom":
            raise RuntimeError("user code failed")
        return Score(0.5)

    rewards, metrics = call_like_trl(trl_reward(MockBackend(handler)), ["q", "q"], ["boom", "ok"])
    assert rewards == [0.0, 0.5]
    assert metrics["mock/errors/other_error"] == [1.0]


def test_a_backend_that_raises_scores_every_sample_as_an_error() -> None:
    class Broken(MockBackend):
        def score(self, samples: Any, items: Any) -> list[Score]:
            raise ConnectionError("down")

    rewards, metrics = call_like_trl(trl_reward(Broken(lambda s, i: Score(1.0))), ["q", "q"], ["a", "b"])
    assert rewards == [0.0, 0.0]
    assert metrics["mock/errors/reward_backend_error"] == [2.0]


def test_empty_and_huge_completions_are_graded_quickly(exact: Grader) -> None:
    huge = "x" * 5_000_000
    rewards, _ = call_like_trl(trl_reward(exact), ["q", "q", "q"], ["", huge, "a"], answer=["a", "a", "a"])
    assert rewards == [0.0, 0.0, 1.0]
    spec = {"type": "string_check", "name": "js", "operation": "eq",
            "input": "{{sample.output_json.a}}", "reference": "{{item.answer}}"}
    rewards, metrics = call_like_trl(trl_reward(compile_spec(spec)), ["q"], ["{" * 100_000], answer=["a"])
    assert rewards == [0.0] and metrics["js/errors/sample_parse_error"] == [1.0]


def test_multi_sub_scores_are_logged_per_component(multi: Grader) -> None:
    reward = trl_reward(multi)
    rewards, metrics = call_like_trl(
        reward, ["q"] * 2, ["cat", "a cat"], answer=["cat", "cat"], keyword=["cat", "dog"]
    )
    assert rewards == [1.0, 0.0]
    assert metrics["combo/exact"] == [0.5] and metrics["combo/has"] == [0.5]


def test_column_mismatch_is_loud_at_the_first_call(exact: Grader) -> None:
    with pytest.raises(DatasetMismatchError, match=r"'answer' \(did you mean 'answers'\?\)"):
        call_like_trl(trl_reward(exact), ["q"], ["a"], answers=["a"])


def test_check_dataset_checks_columns_before_training(exact: Grader) -> None:
    check_dataset(exact, [{"prompt": "q", "answer": "a"}])
    check_dataset(exact, ["prompt", "answer"])
    with pytest.raises(DatasetMismatchError, match="ground_truth"):
        check_dataset(compile_spec({**EXACT_GT}), [{"prompt": "q", "ground_truths": "a"}])


EXACT_GT = {"type": "string_check", "name": "gt", "operation": "eq",
            "input": "{{sample.output_text}}", "reference": "{{item.ground_truth}}"}


def test_reward_pickles_and_has_a_readable_name(multi: Grader) -> None:
    reward = trl_reward(multi)
    assert reward.__name__ == "combo"
    clone = pickle.loads(pickle.dumps(reward))
    assert isinstance(clone, TRLReward) and clone.__name__ == "combo"
    rewards, _ = call_like_trl(clone, ["q"], ["cat"], answer=["cat"], keyword=["cat"])
    assert rewards == [1.0]


def test_async_graders_give_an_async_reward_function() -> None:
    async_backend = MockBackend(lambda s, i: Score(0.25), is_async=True)
    reward = trl_reward(async_backend, name="judge")
    assert isinstance(reward, AsyncTRLReward)
    assert inspect.iscoroutinefunction(type(reward).__call__)
    rewards, _ = call_like_trl(reward, ["q", "q"], ["a", "b"])
    assert rewards == [0.25, 0.25]


def test_trl_recognises_the_reward_as_async_and_names_it() -> None:
    trl_utils = pytest.importorskip("trl.trainer.utils", reason="needs the [rl] extra (TRL)")
    get_callable_name, is_async_callable = trl_utils.get_callable_name, trl_utils.is_async_callable

    sync = trl_reward(MockBackend(lambda s, i: Score(1.0)), name="rank")
    async_ = trl_reward(MockBackend(lambda s, i: Score(1.0), is_async=True), name="judge")
    assert (is_async_callable(sync), is_async_callable(async_)) == (False, True)
    assert (get_callable_name(sync), get_callable_name(async_)) == ("rank", "judge")


def test_user_python_code_that_raises_is_a_counted_error() -> None:
    source = (
        "def grade(sample, item):\n"
        "    if sample['output_text'] == 'boom':\n"
        "        raise ValueError('user code failed')\n"
        "    return 1.0 if sample['output_text'] == item['answer'] else 0.0\n"
    )
    with compile_spec({"type": "python", "name": "user", "source": source}) as grader:
        reward = trl_reward(grader)
        rewards, metrics = call_like_trl(reward, ["q"] * 3, ["4", "boom", "5"], answer=["4"] * 3)
        clone = pickle.loads(pickle.dumps(reward))  # recompiled from the spec, sandbox and all
        again, _ = call_like_trl(clone, ["q"], ["boom"], answer=["4"])
        clone.backend.close()
    assert rewards == [1.0, 0.0, 0.0] and again == [0.0]
    assert metrics == {"user/errors/python_grader_runtime_error": [1.0]}
