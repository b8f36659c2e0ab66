"""Graders as TRL reward functions (GRPOTrainer, RLOOTrainer): ``trl_reward``.

TRL calls a reward function as ``f(prompts=..., completions=..., completion_ids=..., **columns,
trainer_state=..., log_extra=..., log_metric=...)`` with one list entry per completion, and wants
one float (or None, "no opinion") back per completion. See ``trl_reward`` for the mapping.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from graders import ErrorKind, Grader, Sample, Score
from rl_adapter._backend import RewardBackend, as_backend
from rl_adapter._errors import DatasetMismatchError
from rl_adapter._lossless import ITEM_COLUMN, PROMPT_FIELD, decode_item
from rl_adapter._reward import component_means, mismatch_message, missing_fields, to_rewards

# Keywords TRL passes besides the dataset columns; they are not item fields.
TRL_KEYWORDS = frozenset(
    {"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric", "environments"}
)


def completion_to_sample(completion: Any) -> Sample:
    """A TRL completion as a Sample.

    Standard format: the completion is the output text. Conversational format: a list of
    messages, of which the last assistant message gives ``output_text`` (text parts joined) and
    ``output_tools`` (its ``tool_calls``). A mapping is read as a sample object.
    """
    if isinstance(completion, str):
        return Sample(completion)
    if isinstance(completion, Sequence) and not isinstance(completion, bytes | bytearray):
        messages = [m for m in completion if isinstance(m, Mapping)]
        chosen = next((m for m in reversed(messages) if m.get("role") == "assistant"), None)
        if chosen is None and messages:
            chosen = messages[-1]
        if chosen is None:
            return Sample("")
        return Sample(_content_text(chosen.get("content")), output_tools=list(chosen.get("tool_calls") or []))
    if isinstance(completion, Mapping):
        return Sample.of(completion)
    return Sample("" if completion is None else str(completion))


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return str(content)


class TRLReward:
    """A grader as a TRL reward function; build one with ``trl_reward``.

    Attributes:
        __name__: The name TRL logs the reward under (``rewards/<name>/mean``).
        stats: Running totals over every call: ``calls``, ``completions``, ``seconds`` spent
            scoring, ``errors`` (a Counter by error kind), ``abstained`` and ``usage`` (the
            judges' tokens, ``{model: graders.client.Usage}``; empty for graders that call no model).
    """

    def __init__(
        self,
        backend: RewardBackend,
        *,
        error_value: float = 0.0,
        name: str | None = None,
        log_components: bool = True,
    ) -> None:
        self.backend = backend
        self.error_value = error_value
        self.__name__ = name or _identifier(backend.name)
        self.log_components = log_components
        self._checked = False
        self.stats: dict[str, Any] = {"calls": 0, "completions": 0, "seconds": 0.0, "errors": Counter(), "abstained": 0,
                                      "usage": {}}

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        start = time.perf_counter()
        samples, items = self._inputs(prompts, completions, kwargs)
        try:
            scores = self.backend.score(samples, items)
        except Exception as exc:  # noqa: BLE001 - a broken backend must not stop training
            scores = self._backend_failed(exc, len(samples))
        return self._finish(scores, kwargs, start)

    def _inputs(
        self, prompts: Sequence[Any], completions: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> tuple[list[Sample], list[dict[str, Any]]]:
        if ITEM_COLUMN in kwargs:
            return self._lossless_inputs(completions, kwargs[ITEM_COLUMN])
        columns = [key for key in kwargs if key not in TRL_KEYWORDS]
        self._check_once(columns)
        n = len(completions)
        values = [kwargs[key] for key in columns]
        items = []
        for i in range(n):
            item = {key: column[i] for key, column in zip(columns, values, strict=True)}
            item[PROMPT_FIELD] = prompts[i] if i < len(prompts) else None
            items.append(item)
        return [completion_to_sample(c) for c in completions], items

    def _check_once(self, columns: Iterable[str]) -> None:
        if not self._checked:
            missing = missing_fields(self.backend.item_fields, columns)
            if missing:
                raise DatasetMismatchError(mismatch_message(self.backend.name, missing, columns))
            self._checked = True

    def _lossless_inputs(
        self, completions: Sequence[Any], encoded: Sequence[str]
    ) -> tuple[list[Sample], list[dict[str, Any]]]:
        """Items decoded from a ``trl_dataset``'s JSON column: the rows exactly as written."""
        items = [decode_item(value) for value in encoded]
        self._check_once({key for item in items for key in item})
        return [completion_to_sample(c) for c in completions], items

    def _backend_failed(self, exc: Exception, n: int) -> list[Score]:
        message = f"{type(exc).__name__}: {str(exc)[:300]}"
        return [Score.failure(ErrorKind.REWARD_BACKEND_ERROR, message) for _ in range(n)]

    def _finish(self, scores: list[Score], kwargs: Mapping[str, Any], start: float) -> list[float | None]:
        rewards, errors, abstained = to_rewards(scores, self.error_value)
        stats = self.stats
        stats["calls"] += 1
        stats["completions"] += len(scores)
        stats["errors"].update(errors)
        stats["abstained"] += abstained
        totals = stats["usage"]
        for model, spent in getattr(scores, "usage", {}).items():  # a grader's ScoreBatch
            totals[model] = totals[model] + spent if model in totals else spent
        log_metric: Callable[[str, float], None] | None = kwargs.get("log_metric")
        if log_metric is not None:
            self._log(log_metric, scores, errors, abstained)
        stats["seconds"] += time.perf_counter() - start
        return rewards

    def _log(
        self, log_metric: Callable[[str, float], None], scores: list[Score], errors: Counter[str], abstained: int
    ) -> None:
        name = self.__name__
        for kind, count in sorted(errors.items()):
            log_metric(f"{name}/errors/{kind}", float(count))
        if abstained:
            log_metric(f"{name}/abstained", float(abstained))
        if self.log_components:
            for key, mean in component_means(scores).items():
                log_metric(f"{name}/{key}", mean)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__name__!r} over {self.backend!r}>"


class AsyncTRLReward(TRLReward):
    """``TRLReward`` for graders that wait on I/O: TRL awaits it concurrently with other rewards."""

    async def __call__(  # type: ignore[override]
        self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any
    ) -> list[float | None]:
        start = time.perf_counter()
        samples, items = self._inputs(prompts, completions, kwargs)
        try:
            scores = await self.backend.ascore(samples, items)
        except Exception as exc:  # noqa: BLE001 - see TRLReward.__call__
            scores = self._backend_failed(exc, len(samples))
        return self._finish(scores, kwargs, start)


def _identifier(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name).strip("_")
    return cleaned or "grader"


def trl_reward(
    grader: Grader | RewardBackend,
    *,
    error_value: float = 0.0,
    name: str | None = None,
    log_components: bool = True,
) -> TRLReward:
    """Wraps a grader as a reward function for TRL's ``GRPOTrainer`` / ``RLOOTrainer``.

    Every dataset column reaches the grader as the item (plus ``prompt``, the prompt TRL passes);
    a completion in the standard format (a str) is the output text, one in the conversational
    format (a message list) gives the last assistant message's text and tool calls.

    Args:
        grader: A compiled grader, or any ``RewardBackend`` (``HttpBackend`` for a remote
            ``rftkit serve``).
        error_value: The reward of a sample that could not be graded (its Score has ``error``):
            unparseable output, a grader that raised, a reward service that is down. A ``multi``
            score keeps the partial credit its formula gave.
        name: The reward's ``__name__`` (TRL logs ``rewards/<name>/mean``); default: the
            grader's name made an identifier.
        log_components: Log each ``multi`` sub-score's batch mean as ``<name>/<key>``.

    Returns:
        A picklable callable with TRL's reward signature. Abstentions (the *reference* is
        unusable: ``Score.abstained``) return None, which TRL leaves out of the advantage. Error
        counts are logged by kind as ``<name>/errors/<kind>`` through TRL's ``log_metric``. When
        the grader waits on I/O (``is_async``), the callable is async, so TRL awaits it.

    Raises:
        DatasetMismatchError: at the first call, when the dataset lacks an item field the
            grader reads (checked once; ``check_dataset`` checks before training).

    Example:
        >>> reward = trl_reward(compile_spec(spec))                           # doctest: +SKIP
        >>> GRPOTrainer(model=..., reward_funcs=[reward], train_dataset=ds)  # doctest: +SKIP
    """
    backend = as_backend(grader)
    cls = AsyncTRLReward if backend.is_async else TRLReward
    return cls(backend, error_value=error_value, name=name, log_components=log_components)
