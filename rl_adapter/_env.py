"""Configuration by environment variable, for the reward files that trainers load by path.

verl and OpenRLHF import a reward *file* and call a module-level function, so the grader is
named by environment variables (set in the trainer's launch script or Ray runtime env):

* ``RFTKIT_GRADER``: path of the grader spec JSON, graded in-process; or
* ``RFTKIT_REWARD_URL``: base URL of an ``rftkit serve`` (with ``RFTKIT_REWARD_TOKEN`` if it
  wants a bearer token);
* ``RFTKIT_REFERENCE_FIELD``: the item field the trainer's reference (verl ``ground_truth``,
  OpenRLHF label) is stored under; defaults to the trainer's own name for it.
"""

from __future__ import annotations

import functools
import os

from graders import load_spec
from rl_adapter._backend import GraderBackend, RewardBackend
from rl_adapter._errors import RLAdapterError

GRADER_ENV = "RFTKIT_GRADER"
URL_ENV = "RFTKIT_REWARD_URL"
TOKEN_ENV = "RFTKIT_REWARD_TOKEN"
REFERENCE_FIELD_ENV = "RFTKIT_REFERENCE_FIELD"


def backend_from_env(grader_path: str | None = None, url: str | None = None) -> RewardBackend:
    """The backend named by the arguments, else by ``RFTKIT_GRADER`` / ``RFTKIT_REWARD_URL``.

    Built once per process and configuration (trainers call the reward function per batch).

    Raises:
        RLAdapterError: neither is set.
        graders.SpecError: the spec is invalid.
    """
    grader_path = grader_path or os.environ.get(GRADER_ENV) or None
    url = url or os.environ.get(URL_ENV) or None
    return _cached(grader_path, url, os.environ.get(TOKEN_ENV) or None)


@functools.cache
def _cached(grader_path: str | None, url: str | None, token: str | None) -> RewardBackend:
    if grader_path:
        return GraderBackend(load_spec(grader_path))
    if url:
        from rl_adapter._http import HttpBackend

        return HttpBackend(url, token=token)
    raise RLAdapterError(f"set {GRADER_ENV} to a grader spec file or {URL_ENV} to an rftkit serve URL")


def reference_field(default: str) -> str:
    """``RFTKIT_REFERENCE_FIELD``, or ``default``."""
    return os.environ.get(REFERENCE_FIELD_ENV) or default
