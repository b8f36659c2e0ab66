"""rftkit's OpenRLHF rewards driven by OpenRLHF 0.11's own reward client, ``SingleTurnAgentExecutor``.

The executor is the code OpenRLHF's vLLM engines run per rollout: it tokenises the prompt, asks
the engine for a continuation (here a scripted stand-in for vLLM, the one part that needs a GPU),
decodes prompt + response and gets the reward from ``--reward.remote_url``: a ``.py`` file's
``reward_func`` or HTTP POSTs round-robin over comma-separated URLs.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from verl_support import documented_commands, save_tokenizer

import rl_adapter

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

ROOT = Path(__file__).parents[2]
REWARD_FILE = str(Path(rl_adapter.__file__).parent / "openrlhf_reward.py")
SPEC = {"type": "string_check", "name": "exact", "operation": "eq",
        "input": "{{sample.output_text}}", "reference": "{{item.answer}}"}
# (prompt, response, label, reward); one word each: the stand-in tokenizer decodes without spaces.
CASES = [("animal?", "cat", "cat", 1.0), ("animal?", "dog", "cat", 0.0),
         ("bird?", "owl", "owl", 1.0), ("bird?", "cat", "owl", 0.0)]


class ScriptedEngine:
    """Stands in for OpenRLHF's vLLM engine: answers each prompt with the scripted response's tokens."""

    def __init__(self, tokenizer: Any, response: str) -> None:
        self.ids = tokenizer(response, add_special_tokens=False)["input_ids"]
        self.text = response

    async def generate(self, prompt_token_ids: list[int], params: Any, multi_modal_data: Any = None) -> Any:
        out = SimpleNamespace(token_ids=self.ids, text=self.text, finish_reason="stop", logprobs=None)
        return SimpleNamespace(outputs=[out])


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from transformers import AutoTokenizer

    words = [w for case in CASES for w in (*case[0].split(), case[1])]
    return AutoTokenizer.from_pretrained(save_tokenizer(words, tmp_path_factory.mktemp("tok"), spaced=False))


def run_executor(executor: Any, tokenizer: Any) -> list[dict[str, Any]]:
    async def one(prompt: str, response: str, label: str) -> dict[str, Any]:
        params = SimpleNamespace(max_tokens=8, logprobs=None)
        result: dict[str, Any] = await executor.execute(prompt, label, params, 64, tokenizer,
                                                        ScriptedEngine(tokenizer, response))
        return result

    async def all_cases() -> list[dict[str, Any]]:
        return [await one(p, r, label) for p, r, label, _ in CASES]

    return asyncio.run(all_cases())


def reward_of(output: dict[str, Any]) -> float | None:
    reward = output["reward"]
    if reward is None:
        return None
    return float(reward[0]) if isinstance(reward, list) else float(reward.flatten()[0])


def test_reward_file_through_the_executor(tokenizer: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    from rl_adapter._env import _cached

    spec = tmp_path / "exact.json"
    spec.write_text(json.dumps(SPEC))
    monkeypatch.setenv("RFTKIT_GRADER", str(spec))
    monkeypatch.setenv("RFTKIT_REFERENCE_FIELD", "answer")
    _cached.cache_clear()
    outputs = run_executor(SingleTurnAgentExecutor(REWARD_FILE), tokenizer)
    assert [reward_of(o) for o in outputs] == [case[3] for case in CASES]
    assert [float(o["extra_logs"]["grader_error"].flatten()[0]) for o in outputs] == [0.0] * len(CASES)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two ``rftkit serve`` processes on the same grader."""
    spec = tmp_path_factory.mktemp("serve") / "exact.json"
    spec.write_text(json.dumps(SPEC))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RFTKIT_SERVE_TOKEN", None)
    ports = [free_port(), free_port()]
    procs = [subprocess.Popen([sys.executable, "-m", "rftkit", "serve", str(spec), "--port", str(port),
                               "--label-field", "answer", "--log-level", "warning"], env=env)
             for port in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, "rftkit serve did not come up"
                time.sleep(0.1)
        yield [f"http://127.0.0.1:{port}/get_reward" for port in ports]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)


def test_two_serve_replicas_round_robin(tokenizer: Any, replicas: list[str]) -> None:
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    # What train_ppo_ray does with --reward.remote_url A,B.
    executor = SingleTurnAgentExecutor("{},{}".format(*replicas).split(","))
    outputs = run_executor(executor, tokenizer)
    assert [reward_of(o) for o in outputs] == [case[3] for case in CASES]
    assert [o["extra_logs"]["grader_error"] for o in outputs] == [[0.0]] * len(CASES)


def test_a_dead_replica_retries_then_leaves_its_samples_without_reward(tokenizer: Any, replicas: list[str]) -> None:
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    dead = f"http://127.0.0.1:{free_port()}/get_reward"
    start = time.monotonic()
    outputs = run_executor(SingleTurnAgentExecutor([replicas[0], dead]), tokenizer)
    # Calls alternate; the dead replica's are retried 5 times, 1 s apart, then given up on.
    assert [reward_of(o) for o in outputs] == [1.0, None, 1.0, None]
    assert time.monotonic() - start >= 2 * 5


def openrlhf_parser() -> Any:
    """The argument parser of ``openrlhf.cli.train_ppo_ray``, built from its own source.

    The module imports vLLM at the top, which needs a GPU; the parser is built in its
    ``__main__`` block from argparse alone, so that block runs up to ``parse_args``.
    """
    spec = importlib.util.find_spec("openrlhf.cli.train_ppo_ray")
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    stdlib = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)
              and ((n.module if isinstance(n, ast.ImportFrom) else n.names[0].name) or "").split(".")[0]
              in sys.stdlib_module_names]
    main = next(n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test))
    body = []
    for stmt in main.body:
        if "parse_args" in ast.unparse(stmt):
            break
        body.append(stmt)
    namespace: dict[str, Any] = {}
    exec(compile(ast.Module(body=[*stdlib, *body], type_ignores=[]), spec.origin, "exec"), namespace)  # noqa: S102
    return namespace["parser"]


def test_documented_openrlhf_commands_parse() -> None:
    parser = openrlhf_parser()
    page = (ROOT / "docs" / "trainers.md").read_text()
    variables = {"REWARD": REWARD_FILE, "PWD": str(ROOT), "MODEL": "m", "DATA": "d", "HOME": "h"}
    commands = documented_commands(page, "python3 -m openrlhf.cli.train_ppo_ray", variables)
    assert len(commands) >= 2
    estimators = set()
    for args in commands:
        parsed = vars(parser.parse_args(args))
        assert parsed["reward.remote_url"] and parsed["data.label_key"]
        estimators.add((parsed["algo.advantage.estimator"], bool(parsed["critic.model_name_or_path"])))
    assert ("gae", True) in estimators and ("group_norm", False) in estimators
    with pytest.raises(SystemExit):
        parser.parse_args(["--remote_rm_url", REWARD_FILE])  # the flag the README used to show
