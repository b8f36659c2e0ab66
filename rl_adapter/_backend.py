"""The reward-backend protocol: where Scores come from (in-process, over HTTP, or a mock).

Every adapter (TRL, verl, OpenRLHF, the HTTP server) is written against this one small
protocol, so the same adapter runs with a grader in-process, with a remote ``rftkit serve``
(``HttpBackend``) or, in tests, with ``MockBackend`` and no trainer or network at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from graders import ErrorKind, Grader, Sample, Score, compile_spec, kinds


@runtime_checkable
class RewardBackend(Protocol):
    """Scores samples against items: ``score`` and its async twin ``ascore``.

    Errors come back as Scores, never raised.

    Attributes:
        name: A readable name (the grader's name), used for metric and function names.
        item_fields: The item fields the grader reads (empty when unknown).
        is_async: True when ``ascore`` should be preferred (the grader waits on I/O).
    """

    @property
    def name(self) -> str: ...

    @property
    def item_fields(self) -> frozenset[str]: ...

    @property
    def is_async(self) -> bool: ...

    def score(self, samples: Sequence[Sample], items: Sequence[Mapping[str, Any]]) -> list[Score]:
        """Returns one Score per sample (samples[i] graded against items[i])."""
        ...

    async def ascore(self, samples: Sequence[Sample], items: Sequence[Mapping[str, Any]]) -> list[Score]:
        """Async ``score``, awaited by async trainers; a backend that does no I/O may run ``score``."""
        ...


class GraderBackend:
    """Runs a compiled grader in-process.

    It pickles by spec (the grader is recompiled on load), so reward functions built on it
    cross process boundaries, as TRL's async workers and Ray need.
    """

    def __init__(self, grader: Grader) -> None:
        self.grader = grader
        self.name = grader.name
        self.item_fields = grader.item_fields
        self.is_async = grader.is_async

    def score(self, samples: Sequence[Sample], items: Sequence[Mapping[str, Any]]) -> list[Score]:
        """Grades each sample against its item in this process."""
        return self.grader.grade_batch(samples, items)

    async def ascore(self, samples: Sequence[Sample], items: Sequence[Mapping[str, Any]]) -> list[Score]:
        """Async ``score``: I/O-bound graders grade the batch concurrently."""
        return await self.grader.agrade_batch(samples, items)

    def close(self) -> None:
        """Releases what the grader holds (sandbox workers, HTTP clients)."""
        self.grader.close()

    def __reduce__(self) -> tuple[Any, ...]:
        if self.grader.spec.type in kinds():
            return (_backend_from_spec, (self.grader.spec,))
        return (GraderBackend, (self.grader,))

    def __repr__(self) -> str:
        return f"GraderBackend({self.grader!r})"


def _backend_from_spec(spec: Any) -> GraderBackend:
    return GraderBackend(compile_spec(spec))


class MockBackend:
    """A test double: Scores come from ``handler(sample, item)``; every call is recorded.

    Ship-with-the-package double (as httpx ships ``MockTransport``) so adapter tests run
    without a grader, a trainer or a network. A handler that raises gives an error Score, as
    a real grader would.

    Example:
        >>> backend = MockBackend(lambda s, i: Score(float(s.output_text == i["answer"])))
        >>> backend.score([Sample("a")], [{"answer": "a"}])[0].value
        1.0
    """

    def __init__(
        self,
        handler: Callable[[Sample, Mapping[str, Any]], Score],
        *,
        name: str = "mock",
        item_fields: frozenset[str] = frozenset(),
        is_async: bool = False,
    ) -> None:
        self.handler = handler
        self.name = name
        self.item_fields = frozenset(item_fields)
        self.is_async = is_async
        self.calls: list[tuple[list[Sample], list[Mapping[str, Any]]]] = []

    def score(self, samples: Sequence[Sample], items: Sequence[Mapping[str, Any]]) -> list[Score]:
        """Records the call and returns ``handler``'s Score for each sample."""
        self.calls.append((list(samples), list(items)))
        out = []
        for sample, item in zip(samples, items, strict=True):
            try:
                out.append(self.handler(sample, item))
            except Exception as exc:  # noqa: BLE001 - mirrors Grader.grade: a bad sample is an error Score
                out.append(Score.failure(ErrorKind.OTHER_ERROR, f"{type(exc).__name__}: {str(exc)[:500]}"))
        return out

    async def ascore(self, samples: Sequence[Sample], items: Sequence[Mapping[str, Any]]) -> list[Score]:
        """Async ``score`` (the handler runs inline)."""
        return self.score(samples, items)


def as_backend(grader: Grader | RewardBackend) -> RewardBackend:
    """A Grader wrapped in a GraderBackend; a backend is returned as it is."""
    if isinstance(grader, Grader):
        return GraderBackend(grader)
    if isinstance(grader, RewardBackend):
        return grader
    raise TypeError(f"expected a Grader or a RewardBackend, not {type(grader).__name__}")
