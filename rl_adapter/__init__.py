"""rftkit rl_adapter: any grader as the reward of a real RL trainer.

* ``trl_reward(grader)``: a reward function for TRL's ``GRPOTrainer`` / ``RLOOTrainer``, and
  ``trl_dataset(rows)``, the dataset that carries every row to it unchanged;
* ``verl_compute_score`` / ``openrlhf_reward_func``: the verl and OpenRLHF reward signatures
  (``rl_adapter/verl_reward.py`` and ``rl_adapter/openrlhf_reward.py`` are the files those
  trainers load by path);
* ``create_app`` / ``serve``: the HTTP reward service behind ``rftkit serve`` (bounded by
  ``ServerLimits``);
* ``load_job`` / ``parse_job`` / ``run_job``: the local RFT job behind ``rftkit train`` (a hosted
  job body runs unchanged; see docs/jobs.md);
* ``api_server`` / ``ApiSettings``: ``rftkit api``, the hosted graders API for the official
  ``openai`` client, here in a background thread.

torch and trl are imported only by the code that trains.

Example:
    >>> from graders import compile_spec
    >>> from rl_adapter import trl_reward
    >>> reward = trl_reward(compile_spec({"type": "string_check", "name": "exact", "operation": "eq",
    ...                                   "input": "{{sample.output_text}}", "reference": "{{item.answer}}"}))
    >>> reward(prompts=["2+2?"], completions=["4"], completion_ids=[[4]], answer=["4"])
    [1.0]
"""

from rl_adapter._api import ApiSettings, api_server
from rl_adapter._backend import GraderBackend, MockBackend, RewardBackend
from rl_adapter._errors import DataFileError, DatasetMismatchError, JobConfigError, JobFailedError, RLAdapterError
from rl_adapter._http import HttpBackend
from rl_adapter._http_limits import ServerLimits
from rl_adapter._job._config import JobConfig, load_job, parse_job
from rl_adapter._job._train import JobResult, run_job
from rl_adapter._lossless import trl_dataset
from rl_adapter._openrlhf import openrlhf_reward_func, openrlhf_rewards
from rl_adapter._reward import check_dataset
from rl_adapter._server import create_app, serve
from rl_adapter._trl import AsyncTRLReward, TRLReward, completion_to_sample, trl_reward
from rl_adapter._verl import verl_compute_score

__all__ = [
    "ApiSettings",
    "AsyncTRLReward",
    "DataFileError",
    "DatasetMismatchError",
    "GraderBackend",
    "HttpBackend",
    "JobConfig",
    "JobConfigError",
    "JobFailedError",
    "JobResult",
    "MockBackend",
    "RLAdapterError",
    "RewardBackend",
    "ServerLimits",
    "TRLReward",
    "api_server",
    "check_dataset",
    "completion_to_sample",
    "create_app",
    "load_job",
    "openrlhf_reward_func",
    "openrlhf_rewards",
    "parse_job",
    "run_job",
    "serve",
    "trl_dataset",
    "trl_reward",
    "verl_compute_score",
]
