"""OpenRLHF loads this file by path; it grades with the rftkit grader named by the environment.

OpenRLHF launch (``train_ppo_ray`` / GRPO)::

    RFTKIT_GRADER=specs/gsm8k.json RFTKIT_REFERENCE_FIELD=answer \\
    python -m openrlhf.cli.train_ppo_ray ... --label_key answer \\
        --remote_rm_url $(python -c "import rl_adapter.openrlhf_reward as m; print(m.__file__)")

(Ray workers need the variables too: ``--runtime-env-json '{"env_vars": {"RFTKIT_GRADER": ...}}'``.)
Or serve the grader and point OpenRLHF at it: ``rftkit serve spec.json --port 8900`` and
``--remote_rm_url http://host:8900/get_reward``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rl_adapter._env import backend_from_env, reference_field
from rl_adapter._openrlhf import DEFAULT_LABEL_FIELD, openrlhf_reward_func

__all__ = ["reward_func"]


def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kwargs: Any) -> Any:
    """OpenRLHF's ``reward_func``: ``{"rewards", "scores", "extra_logs"}`` as torch tensors."""
    fn = openrlhf_reward_func(backend_from_env(), label_field=reference_field(DEFAULT_LABEL_FIELD))
    return fn(queries, prompts, labels)
