"""Token accounting: usage per model, summed over whatever ran inside ``track_usage()``.

Every model-server call reports its usage to the meters active in the caller's context
(a ``contextvars`` stack, so concurrent batches on one loop keep separate sums and tasks
started by ``asyncio.gather`` inherit their batch's meter). Cache hits are counted as calls
and cache hits but add no tokens: they cost nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from graders._types import Score


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens spent on one model (the hosted API's ``model_grader_token_usage_per_model`` entry).

    Attributes:
        prompt_tokens: Prompt tokens the server billed.
        completion_tokens: Completion tokens the server billed.
        total_tokens: Their sum as the server reported it.
        cached_tokens: Prompt tokens the *server* served from its prompt cache.
        calls: Requests made, cache hits included.
        cache_hits: Requests answered from rftkit's on-disk cache (no network, no tokens).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    calls: int = 0
    cache_hits: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
            self.cached_tokens + other.cached_tokens,
            self.calls + other.calls,
            self.cache_hits + other.cache_hits,
        )

    def __sub__(self, other: Usage) -> Usage:
        """What was spent since ``other``, an earlier reading of the same running total."""
        return Usage(
            self.prompt_tokens - other.prompt_tokens,
            self.completion_tokens - other.completion_tokens,
            self.total_tokens - other.total_tokens,
            self.cached_tokens - other.cached_tokens,
            self.calls - other.calls,
            self.cache_hits - other.cache_hits,
        )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        get = data.get
        return cls(
            int(get("prompt_tokens") or 0),
            int(get("completion_tokens") or 0),
            int(get("total_tokens") or 0),
            int(get("cached_tokens") or 0),
            int(get("calls") or 0),
            int(get("cache_hits") or 0),
        )


class UsageMeter:
    """Usage per model, summed; thread-safe. ``track_usage()`` hands one out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_model: dict[str, Usage] = {}

    def add(self, model: str, usage: Usage) -> None:
        with self._lock:
            self._by_model[model] = self._by_model.get(model, Usage()) + usage

    def snapshot(self) -> dict[str, Usage]:
        """Usage per model so far (a copy)."""
        with self._lock:
            return dict(self._by_model)

    def __repr__(self) -> str:
        return f"UsageMeter({self.snapshot()!r})"


_meters: contextvars.ContextVar[tuple[UsageMeter, ...]] = contextvars.ContextVar("rftkit_usage_meters", default=())


@contextlib.contextmanager
def track_usage() -> Iterator[UsageMeter]:
    """Sums the token usage of every model call made inside the block, per model.

    Works across ``await`` and the tasks a batch starts; nested blocks each get the calls
    made inside them.

    Example:
        >>> with track_usage() as meter:                      # doctest: +SKIP
        ...     scores = await judge.agrade_batch(samples, items)
        >>> meter.snapshot()["gpt-4.1-mini"].total_tokens     # doctest: +SKIP
    """
    meter = UsageMeter()
    token = _meters.set((*_meters.get(), meter))
    try:
        yield meter
    finally:
        _meters.reset(token)


class CallLimitReached(BaseException):
    """A model call was about to pass the limit of a ``limit_calls`` block; it was not sent.

    A BaseException, like KeyboardInterrupt: no grader turns it into an error Score, so the
    run that set the limit stops instead of grading on with failed calls.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the limit of {limit} model calls was reached")


class CallLimit:
    """The model calls sent inside one ``limit_calls`` block (``sent``), and its ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent = 0
        self._lock = threading.Lock()

    def spend(self) -> None:
        with self._lock:
            if self.sent >= self.limit:
                raise CallLimitReached(self.limit)
            self.sent += 1


# Process-wide, unlike the meters: a sync ``grade`` sends its calls from rftkit's I/O thread,
# outside the caller's context, and a cap must count those too.
_limits: list[CallLimit] = []


@contextlib.contextmanager
def limit_calls(max_calls: int) -> Iterator[CallLimit]:
    """Lets at most ``max_calls`` model calls reach a server inside the block (cache hits are free).

    The call past the limit raises ``CallLimitReached`` instead of being sent.

    Example:
        >>> with limit_calls(100) as calls:                   # doctest: +SKIP
        ...     scores = judge.grade_batch(samples, items)
        >>> calls.sent                                        # doctest: +SKIP
    """
    if max_calls < 0:
        raise ValueError(f"max_calls must be 0 or more, not {max_calls}")
    limit = CallLimit(max_calls)
    _limits.append(limit)
    try:
        yield limit
    finally:
        _limits.remove(limit)


def spend_call() -> None:
    """Counts one call about to be sent against every active limit; raises CallLimitReached past one."""
    for limit in _limits:
        limit.spend()


def record_usage(model: str, usage: Usage) -> None:
    """Adds one call's usage to every meter active in the current context."""
    for meter in _meters.get():
        meter.add(model, usage)


class ScoreBatch(list[Score]):
    """The scores of a batch (a plain ``list[Score]``), plus the batch's token usage per model.

    Attributes:
        usage: ``{model: Usage}`` summed over every model call the batch made; empty for
            graders that call no model.
    """

    usage: dict[str, Usage]

    def __init__(self, scores: Iterable[Score] = (), usage: Mapping[str, Usage] | None = None) -> None:
        super().__init__(scores)
        self.usage = dict(usage or {})
