"""Rows reach the grader exactly as written, through real ``datasets`` and TRL code.

Arrow (``Dataset.from_list``) turns ints into floats next to floats, gives objects the keys of
their neighbours as ``None`` and refuses mixed-type columns; ``trl_dataset`` must do none of that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from graders import Score, compile_spec
from rl_adapter import MockBackend, check_dataset, trl_dataset, trl_reward
from rl_adapter._errors import DatasetMismatchError

# ints beside floats, objects with different keys, nulls, an absent key, a mixed-type column.
ROWS: list[dict[str, Any]] = [
    {"prompt": "one", "n": 3, "expected": {"a": 1}, "mixed": "x", "maybe": None},
    {"prompt": "two", "n": 2.5, "expected": {"b": [1, 2], "c": None}, "mixed": 5, "maybe": 1},
    {"prompt": "three", "n": 10, "expected": {"a": 1, "d": {"e": 1.0}}, "mixed": [1, "two", None]},
]
N_CHECK = {"type": "string_check", "name": "n", "operation": "eq", "input": "{{sample.output_text}}",
           "reference": "{{item.n}}"}
FIELDS = {"type": "field_match", "name": "fields", "input": "{{sample.output_json}}",
          "reference": "{{item.expected}}", "score": "f1"}


def trl_kwargs(dataset: Any) -> dict[str, list[Any]]:
    """The reward keyword arguments GRPOTrainer._calculate_rewards builds from dataset rows."""
    inputs = [dataset[i] for i in range(len(dataset))]
    keys = [key for key in inputs[0] if key not in ("prompt", "completion", "completion_ids")]
    return {key: [example[key] for example in inputs] for key in keys}


def test_the_rows_really_break_arrow() -> None:
    """The premise: the plain conversion alters these rows (so the tests below can fail)."""
    from datasets import Dataset

    plain = Dataset.from_list([{k: v for k, v in row.items() if k != "mixed"} for row in ROWS])
    assert plain[0]["n"] == 3.0 and isinstance(plain[0]["n"], float)
    assert set(plain[0]["expected"]) == {"a", "b", "c", "d"}
    import pyarrow

    with pytest.raises(pyarrow.ArrowException):
        Dataset.from_list(ROWS)


def test_string_check_against_an_int_field_scores_one() -> None:
    dataset = trl_dataset(ROWS)
    reward = trl_reward(compile_spec(N_CHECK))
    completions = [json.dumps(row["n"]) for row in ROWS]  # "3", "2.5", "10": the text of the file
    prompts = [dataset[i]["prompt"] for i in range(len(dataset))]
    assert reward(prompts=prompts, completions=completions, **trl_kwargs(dataset)) == [1.0, 1.0, 1.0]


def test_field_match_on_objects_with_different_keys_scores_f1_one() -> None:
    dataset = trl_dataset(ROWS)
    reward = trl_reward(compile_spec(FIELDS))
    completions = [json.dumps(row["expected"]) for row in ROWS]
    prompts = [dataset[i]["prompt"] for i in range(len(dataset))]
    assert reward(prompts=prompts, completions=completions, **trl_kwargs(dataset)) == [1.0, 1.0, 1.0]


def test_the_item_is_the_row_as_written() -> None:
    backend = MockBackend(lambda s, i: Score(1.0))
    dataset = trl_dataset(ROWS)
    trl_reward(backend)(prompts=["p"] * 3, completions=["c"] * 3, **trl_kwargs(dataset))
    (_, items), = backend.calls
    assert items == ROWS
    assert [type(item["n"]) for item in items] == [int, float, int]
    assert "maybe" not in items[2]


def test_hosted_rows_keep_messages_and_get_the_prompt_without_the_answer() -> None:
    row = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}], "n": 4}
    dataset = trl_dataset([row])
    assert dataset[0]["prompt"] == [{"role": "user", "content": "2+2?"}]
    backend = MockBackend(lambda s, i: Score(1.0))
    trl_reward(backend)(prompts=[dataset[0]["prompt"]], completions=["4"], **trl_kwargs(dataset))
    assert backend.calls[0][1] == [{**row, "prompt": [{"role": "user", "content": "2+2?"}]}]


def test_check_dataset_reads_the_rows_keys() -> None:
    check_dataset(compile_spec(FIELDS), trl_dataset(ROWS))
    with pytest.raises(DatasetMismatchError, match="'expected'"):
        check_dataset(compile_spec(FIELDS), trl_dataset([{"prompt": "p", "expectd": {}}]))


def test_values_that_are_not_json_are_refused() -> None:
    with pytest.raises(TypeError, match="JSON data"):
        trl_dataset([{"prompt": "p", "when": object()}])


# TRL itself triggers this transformers deprecation on every generation step.
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_real_grpo_trainer_hands_the_grader_the_exact_rows(tmp_path: Path) -> None:
    """One GRPO step of the tiny model: every item TRL passes is one of the rows, unchanged."""
    from trl import GRPOConfig, GRPOTrainer

    from rl_adapter._job._config import TinyModel
    from rl_adapter._job._tiny import build_tiny

    model, tokenizer = build_tiny(["one", "two", "three"], TinyModel(hidden_size=16, intermediate_size=16,
                                                                      num_heads=2, num_kv_heads=1), 0)
    backend = MockBackend(lambda s, i: Score(float(len(s.output_text) % 2)))
    config = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=6, num_generations=2,
                        max_completion_length=2, max_steps=1, use_cpu=True, report_to="none",
                        save_strategy="no", disable_tqdm=True, logging_steps=1, activation_checkpointing=False)
    trainer = GRPOTrainer(model=model, reward_funcs=[trl_reward(backend)], args=config,
                          train_dataset=trl_dataset(ROWS), processing_class=tokenizer)
    trainer.train()
    seen = [item for _, items in backend.calls for item in items]
    assert len(seen) == 6
    by_prompt = {row["prompt"]: row for row in ROWS}
    for item in seen:
        assert item == by_prompt[item["prompt"]]
        assert type(item["n"]) is type(by_prompt[item["prompt"]]["n"])

