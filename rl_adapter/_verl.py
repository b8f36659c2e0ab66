"""verl's reward protocol: ``compute_score(data_source, solution_str, ground_truth, extra_info)``.

verl's reward managers (``reward.reward_manager.name``: ``naive``, ``remote``, ...) call the
function named by ``reward.custom_reward_function.name`` in the file
``reward.custom_reward_function.path`` once per response, by keyword, with the dataset row's
``data_source``, the decoded response, ``reward_model.ground_truth`` and ``extra_info``, plus
``reward.custom_reward_function.reward_kwargs``. An ``async def`` function is awaited on the
reward loop (the ``naive`` manager); a sync one runs in a thread or a Ray worker (``remote``).

The answer is a dict: ``score`` is the reward, every other key is recorded by verl as per-sample
extra info (logged and dumped with the generations). verl reads the keys of the batch's first
answer and indexes every other answer by them, so the keys never vary within a run:

* ``score``: the reward;
* ``error``: 1.0 when the sample could not be graded (bad output, grader failure);
* ``abstained``: 1.0 when the *reference* was unusable (missing or of the wrong type, or the
  grader could not parse it). verl has no "no reward" outcome, so an abstention scores
  ``error_value`` like an error; the flag tells them apart in the logs;
* ``error/<kind>``: 1.0 for the error kind of this sample (one key per ``ErrorKind``);
* ``<part>``: each sub-score of a ``multi`` grader (0.0 when that part errs).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from graders import ErrorKind, Grader, Sample, Score
from rl_adapter._backend import GraderBackend, RewardBackend, as_backend
from rl_adapter._env import backend_from_env, reference_field
from rl_adapter._lossless import ITEM_COLUMN, grading_item
from rl_adapter._reward import to_rewards

logger = logging.getLogger(__name__)

DEFAULT_GROUND_TRUTH_FIELD = "ground_truth"
# Keys verl's reward managers add to ``extra_info`` themselves; they are not dataset fields.
VERL_EXTRA_KEYS = frozenset({"num_turns", "rollout_reward_scores"})
# JSON data a grader can read a reference from; anything else is a broken dataset row.
_JSON_TYPES = (str, int, float, bool, list, dict)

VerlResult = dict[str, float]


def _plain(value: Any) -> Any:
    """numpy arrays and scalars (what parquet rows become in a DataProto) as Python data."""
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else value


def verl_item(data_source: Any, ground_truth: Any, extra_info: Any, ground_truth_field: str) -> dict[str, Any]:
    """The grader item for one verl row.

    An ``extra_info`` holding ``rftkit_item`` (what ``rftkit export verl`` writes) gives the
    exported row exactly as written. Otherwise ``extra_info``'s keys (less the ones verl adds),
    then ``ground_truth``'s keys when it is an object, become item fields. ``ground_truth`` itself
    is stored under ``ground_truth_field`` and ``data_source`` under ``data_source``.
    """
    item: dict[str, Any] = {}
    if isinstance(extra_info, Mapping):
        carried = extra_info.get(ITEM_COLUMN)
        if isinstance(carried, str):
            # The exported row is the truth: its reference field keeps its own type.
            item.update(grading_item(json.loads(carried)))
            item.setdefault(ground_truth_field, ground_truth)
            item.setdefault("data_source", data_source)
            return item
        item.update((k, _plain(v)) for k, v in extra_info.items() if k not in VERL_EXTRA_KEYS)
    if isinstance(ground_truth, Mapping):
        item.update(ground_truth)
    item[ground_truth_field] = ground_truth
    item.setdefault("data_source", data_source)
    return item


def bad_ground_truth(ground_truth: Any) -> Score | None:
    """The abstention for a ground truth no grader can use (missing or not JSON data), else None."""
    if ground_truth is None:
        why = "the row has no reward_model.ground_truth"
    elif not isinstance(ground_truth, _JSON_TYPES):
        why = f"reward_model.ground_truth is a {type(ground_truth).__name__}, not JSON data"
    else:
        return None
    return Score.failure(ErrorKind.REFERENCE_PARSE_ERROR, why)


def result_keys(backend: RewardBackend) -> tuple[str, ...]:
    """The sub-score keys of the answer: the parts of a ``multi`` grader, else none."""
    if isinstance(backend, GraderBackend):
        parts = getattr(backend.grader.spec, "graders", None)
        if isinstance(parts, Mapping):
            return tuple(sorted(parts))
    return ()


def verl_result(score: Score, parts: Sequence[str], error_value: float) -> VerlResult:
    """verl's answer for one Score: ``score``, the error flags and the sub-scores (keys fixed)."""
    reward = to_rewards([score], error_value)[0][0]
    out: VerlResult = {"score": error_value if reward is None else float(reward)}
    kind = score.error.kind if score.error is not None else None
    out["error"] = float(kind is not None and not score.abstained)
    out["abstained"] = float(score.abstained)
    for member in ErrorKind:
        out[f"error/{member}"] = float(kind == member)
    sub = score.details.get("sub_scores")
    sub = sub if isinstance(sub, Mapping) else {}
    for part in parts:
        value = sub.get(part)
        out[part] = float(value) if isinstance(value, int | float) else 0.0
    if kind is not None:
        # One line per failed sample: verl's own logs then say why a reward was error_value.
        logger.warning("rftkit verl reward: %s: %s", kind, score.error.message if score.error else "")
    return out


class VerlScorer:
    """The grading behind ``verl_compute_score``: picklable (a Ray worker rebuilds it from the spec)."""

    def __init__(self, backend: RewardBackend, ground_truth_field: str, error_value: float) -> None:
        self.backend = backend
        self.ground_truth_field = ground_truth_field
        self.error_value = error_value
        self.parts = result_keys(backend)

    def _inputs(self, data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any) -> Any:
        ground_truth = _plain(ground_truth)
        bad = bad_ground_truth(ground_truth)
        if bad is not None:
            return bad
        item = verl_item(data_source, ground_truth, extra_info, self.ground_truth_field)
        return Sample(solution_str if isinstance(solution_str, str) else ""), item

    def __call__(self, data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any = None) -> VerlResult:
        inputs = self._inputs(data_source, solution_str, ground_truth, extra_info)
        if isinstance(inputs, Score):
            return verl_result(inputs, self.parts, self.error_value)
        score = self.backend.score([inputs[0]], [inputs[1]])[0]
        return verl_result(score, self.parts, self.error_value)

    async def ascore(
        self, data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any = None
    ) -> VerlResult:
        """``__call__`` for verl's event loop: I/O-bound graders (judges) do not block it."""
        inputs = self._inputs(data_source, solution_str, ground_truth, extra_info)
        if isinstance(inputs, Score):
            return verl_result(inputs, self.parts, self.error_value)
        ascore = getattr(self.backend, "ascore", None)
        if ascore is None:
            score = self.backend.score([inputs[0]], [inputs[1]])[0]
        else:
            score = (await ascore([inputs[0]], [inputs[1]]))[0]
        return verl_result(score, self.parts, self.error_value)


def configured_scorer(
    grader: str | None, url: str | None, ground_truth_field: str | None, error_value: float
) -> VerlScorer:
    """The scorer for ``rl_adapter/verl_reward.py``'s reward kwargs, else its environment variables.

    Built once per backend and setting: verl calls the reward once per response.
    """
    field = ground_truth_field or reference_field(DEFAULT_GROUND_TRUTH_FIELD)
    backend: Any = backend_from_env(grader, url)
    return _cached_scorer(backend, field, error_value)


@functools.cache
def _cached_scorer(backend: Any, field: str, error_value: float) -> VerlScorer:
    return VerlScorer(backend, field, error_value)


def verl_compute_score(
    grader: Grader | RewardBackend,
    *,
    ground_truth_field: str = DEFAULT_GROUND_TRUTH_FIELD,
    error_value: float = 0.0,
    asynchronous: bool = False,
) -> Callable[..., VerlResult] | Callable[..., Coroutine[Any, Any, VerlResult]]:
    """Builds verl's ``compute_score`` over a grader.

    To hand it to verl, load it from a file: see ``rl_adapter/verl_reward.py``.

    Args:
        grader: A compiled grader or a reward backend.
        ground_truth_field: The item field ``ground_truth`` is stored under
            (``{{item.ground_truth}}`` by default; ``correct_answer`` for the gene example).
        error_value: The score of a response that could not be graded, and of one whose
            reference is unusable (an abstention: verl has no "no reward" value).
        asynchronous: Return an ``async def`` function, which verl's ``naive`` reward manager
            awaits on its loop (for judge graders; the ``remote`` manager takes only sync ones).

    Returns:
        ``compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs)``,
        returning ``{"score": reward, "error": 0/1, "abstained": 0/1, "error/<kind>": 0/1,
        **sub_scores}`` (see the module docstring).
    """
    scorer = VerlScorer(as_backend(grader), ground_truth_field, error_value)
    name = f"verl_{scorer.backend.name}"
    if asynchronous:

        async def acompute_score(
            data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any = None, **kwargs: Any
        ) -> VerlResult:
            return await scorer.ascore(data_source, solution_str, ground_truth, extra_info)

        acompute_score.__name__ = name
        return acompute_score

    def compute_score(
        data_source: Any, solution_str: Any, ground_truth: Any, extra_info: Any = None, **kwargs: Any
    ) -> VerlResult:
        return scorer(data_source, solution_str, ground_truth, extra_info)

    compute_score.__name__ = name
    return compute_score
