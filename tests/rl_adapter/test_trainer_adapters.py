"""verl and OpenRLHF adapters, loaded and called exactly as those trainers do."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import rl_adapter
from graders import Grader, compile_spec
from rl_adapter import openrlhf_reward_func, verl_compute_score
from rl_adapter._env import _cached

# The OpenRLHF reward returns torch tensors: this module needs the [rl] extra (`make test` installs it).
torch = pytest.importorskip("torch", reason="needs the [rl] extra: pip install torch==2.13.0 'rftkit[rl]'")
PACKAGE = Path(rl_adapter.__file__).resolve().parent


def load_like(trainer_module_name: str, path: Path) -> ModuleType:
    """verl: spec_from_file_location("custom_module", path); OpenRLHF: ("reward_func", path)."""
    spec = importlib.util.spec_from_file_location(trainer_module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def gene_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    spec = {"type": "list_rank", "name": "gene_rank", "input": "{{sample.output_json.genes}}",
            "reference": "{{item.correct_answer}}", "decay": "table", "table": [1.0, 0.7, 0.4, 0.1]}
    path = tmp_path / "gene.json"
    path.write_text(json.dumps(spec))
    _cached.cache_clear()
    for name in ("RFTKIT_GRADER", "RFTKIT_REWARD_URL", "RFTKIT_REFERENCE_FIELD"):
        monkeypatch.delenv(name, raising=False)
    return path


def test_verl_file_loaded_by_path_and_called_by_keyword(gene_spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_like("custom_module", PACKAGE / "verl_reward.py")
    fn = module.compute_score
    # custom_reward_function.reward_kwargs arrive as extra keywords (verl merges them into the call).
    kwargs = {"grader": str(gene_spec), "ground_truth_field": "correct_answer"}
    right = fn(data_source="genes", solution_str='{"genes": ["TSC2", "TSC1"]}', ground_truth="TSC1",
               extra_info={"index": 0}, **kwargs)
    assert right["score"] == pytest.approx(0.7)
    wrong = fn(data_source="genes", solution_str="not json", ground_truth="TSC1", extra_info=None, **kwargs)
    assert (wrong["score"], wrong["error"], wrong["error/sample_parse_error"]) == (0.0, 1.0, 1.0)
    # The same through environment variables only.
    monkeypatch.setenv("RFTKIT_GRADER", str(gene_spec))
    monkeypatch.setenv("RFTKIT_REFERENCE_FIELD", "correct_answer")
    right = fn(data_source="genes", solution_str='{"genes": ["TSC1"]}', ground_truth="TSC1", extra_info={})
    assert right["score"] == 1.0


def test_verl_factory_reads_object_ground_truth_and_extra_info() -> None:
    grader = compile_spec({"type": "string_check", "name": "x", "operation": "eq",
                           "input": "{{sample.output_text}}", "reference": "{{item.answer}}-{{item.unit}}"})
    fn = verl_compute_score(grader)
    assert fn("src", "4-kg", {"answer": "4"}, {"unit": "kg"})["score"] == 1.0
    assert isinstance(fn("src", "4-kg", {"answer": "4"}, {"unit": "kg"})["score"], float)


def test_openrlhf_file_loaded_by_path_and_called_positionally(gene_spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RFTKIT_GRADER", str(gene_spec))
    monkeypatch.setenv("RFTKIT_REFERENCE_FIELD", "correct_answer")
    module = load_like("reward_func", PACKAGE / "openrlhf_reward.py")
    prompts = ["<|im_start|>user\nWhich gene?<|im_end|>\n<|im_start|>assistant\n"] * 3
    responses = ['{"genes": ["TSC1"]}<|im_end|>', '{"genes": ["X", "Y", "TSC1"]}<|im_end|>', "{oops<|im_end|>"]
    queries = [p + r for p, r in zip(prompts, responses, strict=True)]
    out: dict[str, Any] = module.reward_func(queries, prompts, ["TSC1"] * 3)
    assert isinstance(out["rewards"], torch.Tensor)
    assert out["rewards"].tolist() == pytest.approx([1.0, 0.4, 0.0])
    assert out["extra_logs"]["grader_error"].tolist() == [0.0, 0.0, 1.0]


def test_openrlhf_json_object_labels_become_item_fields(multi: Grader) -> None:
    fn = openrlhf_reward_func(multi)
    labels = [json.dumps({"answer": "cat", "keyword": "cat"}), {"answer": "dog", "keyword": "o"}]
    out = fn(["Q: cat", "Q: dog"], ["Q: ", "Q: "], labels)
    assert out["rewards"].tolist() == [1.0, 1.0]
    assert out["extra_logs"]["exact"].tolist() == [1.0, 1.0]
