"""rftkit's verl reward driven through verl 0.9's own code: its Hydra config, reward managers and Ray loop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from verl_support import (
    compose,
    documented_commands,
    rewards_of,
    save_model_config,
    save_tokenizer,
    validate,
    verl_batch,
)

import rl_adapter
from graders import compile_spec
from rl_adapter import verl_compute_score

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning"), pytest.mark.filterwarnings("ignore::FutureWarning")]

ROOT = Path(__file__).parents[2]
REWARD_FILE = str(Path(rl_adapter.__file__).parent / "verl_reward.py")
MULTI = {
    "type": "multi", "name": "combo", "calculate_output": "0.5 * exact + 0.5 * has",
    "graders": {
        "exact": {"type": "string_check", "name": "exact", "operation": "eq",
                  "input": "{{sample.output_text}}", "reference": "{{item.answer}}"},
        "has": {"type": "string_check", "name": "has", "operation": "like",
                "input": "{{sample.output_text}}", "reference": "{{item.keyword}}"},
    },
}
# verl's layout: the reference in reward_model.ground_truth, other fields in extra_info.
ROWS: list[dict[str, Any]] = [
    {"reward_model": {"ground_truth": "cat"}, "extra_info": {"keyword": "cat"}},
    {"reward_model": {"ground_truth": "dog"}, "extra_info": {"keyword": "o"}},
    {"reward_model": {"ground_truth": "owl"}, "extra_info": {"keyword": "zzz"}},
    {"reward_model": {"ground_truth": None}, "extra_info": {"keyword": "x"}},      # missing ground truth
    {"reward_model": {"ground_truth": {1, 2}}, "extra_info": {"keyword": "x"}},    # not JSON data
]
RESPONSES = ["cat", "dot", "owl", "cat", "cat"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("verl")
    spec = tmp / "combo.json"
    spec.write_text(json.dumps(MULTI))
    tokenizer_dir = save_tokenizer(RESPONSES + ["q"], tmp / "tokenizer")
    from transformers import AutoTokenizer

    return {"spec": str(spec), "tokenizer_dir": tokenizer_dir, "model_dir": save_model_config(tmp / "model"),
            "tokenizer": AutoTokenizer.from_pretrained(tokenizer_dir)}


def direct(spec_path: str) -> list[dict[str, float]]:
    """rftkit's own answers for ROWS, without verl."""
    fn = verl_compute_score(compile_spec(json.loads(Path(spec_path).read_text())), ground_truth_field="answer")
    return [fn("rftkit", r, row["reward_model"]["ground_truth"], row["extra_info"])  # type: ignore[misc]
            for r, row in zip(RESPONSES, ROWS, strict=True)]


def overrides(setup: dict[str, Any], manager: str, name: str = "compute_score") -> list[str]:
    return [
        f"reward.custom_reward_function.path={REWARD_FILE}",
        f"reward.custom_reward_function.name={name}",
        f"+reward.custom_reward_function.reward_kwargs.grader={setup['spec']}",
        "+reward.custom_reward_function.reward_kwargs.ground_truth_field=answer",
        f"reward.reward_manager.name={manager}", "reward.num_workers=1",
        f"actor_rollout_ref.model.path={setup['tokenizer_dir']}",
    ]


def test_direct_scores_carry_sub_scores_flags_and_abstentions(setup: dict[str, Any]) -> None:
    out = direct(setup["spec"])
    assert [o["score"] for o in out] == [1.0, 0.5, 0.5, 0.0, 0.0]
    assert [o["exact"] for o in out[:3]] == [1.0, 0.0, 1.0] and [o["has"] for o in out[:3]] == [1.0, 1.0, 0.0]
    # A missing or non-JSON ground truth is an abstention scored 0, flagged, never an exception.
    assert [o["abstained"] for o in out] == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert [o["error/reference_parse_error"] for o in out] == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert len({tuple(o) for o in out}) == 1  # the same keys every time: verl indexes them by the first answer


def test_the_legacy_top_level_override_is_ignored_by_verl(setup: dict[str, Any]) -> None:
    config = compose([f"custom_reward_function.path={REWARD_FILE}", "custom_reward_function.name=compute_score"])
    assert config.reward.custom_reward_function.path is None  # why the docs use reward.custom_reward_function


def test_documented_commands_compose_and_validate(setup: dict[str, Any], tmp_path: Path) -> None:
    page = (ROOT / "docs" / "trainers.md").read_text()
    variables = {"REWARD": REWARD_FILE, "PWD": str(ROOT), "MODEL": setup["model_dir"], "DATA": str(tmp_path),
                 "HOME": str(tmp_path)}
    commands = documented_commands(page, "python3 -m verl.trainer.main_ppo", variables)
    assert len(commands) >= 2
    estimators = set()
    for args in commands:
        config = compose(args)
        validate(config)
        assert config.reward.custom_reward_function.path == REWARD_FILE
        assert Path(config.reward.custom_reward_function.reward_kwargs.grader).is_file()
        estimators.add(config.algorithm.adv_estimator)
    assert {"grpo", "gae"} <= estimators  # GRPO and PPO with a critic


@pytest.mark.parametrize("name", ["compute_score", "compute_score_async"])
def test_in_process_naive_manager(setup: dict[str, Any], name: str) -> None:
    from verl.trainer.ppo.reward import load_reward_manager

    config = compose(overrides(setup, "naive", name))
    manager = load_reward_manager(config, setup["tokenizer"])
    assert manager.is_async_reward_score == (name == "compute_score_async")
    batch = verl_batch(setup["tokenizer"], ROWS, RESPONSES)

    async def run() -> list[dict[str, Any]]:
        return [await manager.run_single(batch[i : i + 1]) for i in range(len(batch))]

    outputs = manager.loop.run_until_complete(run()) if not manager.loop.is_running() else asyncio.run(run())
    expected = direct(setup["spec"])
    assert [o["reward_score"] for o in outputs] == [e["score"] for e in expected]
    assert [o["reward_extra_info"] for o in outputs] == expected


@pytest.fixture(scope="module")
def ray_local() -> Any:
    import ray

    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.mark.parametrize("manager", ["naive", "remote"])
def test_ray_reward_loop_manager_scores_equal_direct_scores(
    setup: dict[str, Any], ray_local: Any, manager: str
) -> None:
    from verl.experimental.reward_loop import RewardLoopManager

    loop = RewardLoopManager(compose(overrides(setup, manager)))
    batch = verl_batch(setup["tokenizer"], ROWS, RESPONSES)
    output = loop.compute_rm_score(batch)
    expected = direct(setup["spec"])
    assert rewards_of(output, batch) == [e["score"] for e in expected]
    assert output.non_tensor_batch["abstained"].tolist() == [e["abstained"] for e in expected]
    assert output.non_tensor_batch["has"].tolist() == [e["has"] for e in expected]
    for worker in loop.reward_loop_workers:
        ray_local.kill(worker)


def test_exported_job_loads_in_verl_and_scores_through_the_reward_loop(
    setup: dict[str, Any], ray_local: Any, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq
    from verl.experimental.reward_loop import RewardLoopManager

    from rl_adapter._verl_export import export_verl

    rows = [{"prompt": "q", "answer": "cat", "keyword": "c", "n": 3, "odd": [1, "a"]},
            {"prompt": "q", "answer": "owl", "keyword": "zzz", "n": 2.5}]
    export = export_verl(rows, MULTI, tmp_path / "out", model=setup["model_dir"], algorithm="ppo")
    table = pq.read_table(export.train_file).to_pylist()
    assert [json.loads(r["extra_info"]["rftkit_item"]) for r in table] == rows  # lossless
    assert [r["reward_model"]["ground_truth"] for r in table] == ["cat", "owl"]
    tokenizer_path = f"actor_rollout_ref.model.tokenizer_path={setup['tokenizer_dir']}"
    config = compose([*export.overrides, "reward.num_workers=1", tokenizer_path])
    validate(config)
    assert config.algorithm.adv_estimator == "gae" and config.critic.model.path == setup["model_dir"]

    from verl.utils.dataset.rl_dataset import RLHFDataset

    dataset = RLHFDataset([str(export.train_file)], setup["tokenizer"], config.data)
    assert len(dataset) == 2
    loop = RewardLoopManager(config)
    batch = verl_batch(setup["tokenizer"], table, ["cat", "owl"])
    assert rewards_of(loop.compute_rm_score(batch), batch) == [1.0, 0.5]


def test_exporter_refuses_an_in_process_function(tmp_path: Path) -> None:
    from graders import from_function
    from rl_adapter._errors import JobConfigError
    from rl_adapter._verl_export import export_verl

    grader = compile_spec({**MULTI, "graders": {**MULTI["graders"], "exact": from_function(lambda s, i: 1.0)}})
    with pytest.raises(JobConfigError, match=r"grader\.graders\.exact .*in-process Python function"):
        export_verl([{"prompt": "q", "answer": "a"}], grader, tmp_path, model="m")
