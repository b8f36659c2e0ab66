"""The Grader: a spec compiled once into a scoring function."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from graders._aio import run_sync
from graders._errors import ErrorKind
from graders._template import MissingVariable, Template
from graders._types import Sample, SampleParseError, Score, ScoreError
from graders._usage import ScoreBatch, track_usage

if TYPE_CHECKING:
    from graders._spec import BaseSpec

SampleLike = Sample | str | Mapping[str, Any]
SpecT = TypeVar("SpecT", bound="BaseSpec")
_EMPTY: Mapping[str, Any] = {}


class Grader(Generic[SpecT]):
    """A compiled grader: ``grade(sample, item) -> Score``.

    Build one with ``compile_spec``. A grader never raises on a bad sample: missing template
    variables, output that is not JSON and any failure inside the kind become a Score with
    ``error`` set. Subclasses implement ``_grade`` (and ``_agrade`` when they wait on I/O).

    Attributes:
        spec: The validated spec this grader was compiled from.
        name: The spec's ``name``.
        item_fields: The top-level item fields the spec's templates read (so a dataset can be
            checked for them before training on it).
        is_async: True when grading waits on I/O (model judges); prefer ``agrade_batch`` then.
    """

    is_async: bool = False

    def __init__(self, spec: SpecT, item_fields: Iterable[str] = ()) -> None:
        self.spec: SpecT = spec
        self.name = spec.name
        self.item_fields: frozenset[str] = frozenset(item_fields)

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        raise NotImplementedError(f"{type(self).__name__} must implement _grade")

    async def _agrade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        return self._grade(sample, item)

    def _grade_parts(self, sample: Sample, item: Mapping[str, Any]) -> tuple[float, dict[str, Any], ScoreError | None]:
        """``_grade``'s value, details and error, for a parent (``multi``) that keeps only these.

        A kind may override it to skip building a Score its parent would drop at once.
        """
        score = self._grade(sample, item)
        return score.value, score.details, score.error

    def grade(self, sample: SampleLike, item: Mapping[str, Any] | None = None) -> Score:
        """Grades one sample against one item.

        Args:
            sample: The model output: a str, a mapping with ``output_text`` / ``output_json`` /
                ``output_tools`` / ``choices``, or a Sample.
            item: The dataset row holding the reference fields.

        Returns:
            The Score; ``error`` is set (and ``value`` is 0) when the sample could not be graded.
        """
        if self.is_async:
            # On the private I/O loop, so this works inside a running event loop too.
            return run_sync(self.agrade(sample, item))
        try:
            return self._grade(Sample.of(sample), _EMPTY if item is None else item)
        except Exception as exc:  # noqa: BLE001 - a bad sample must never crash a training loop
            return error_score(exc)

    def grade_batch(
        self, samples: Sequence[SampleLike], items: Sequence[Mapping[str, Any]] | None = None
    ) -> ScoreBatch:
        """Grades samples[i] against items[i] for every i (items default to empty rows).

        Returns:
            A ``ScoreBatch``: the list of Scores, with the batch's token usage per model in
            ``.usage`` (empty for kinds that call no model). Graders that wait on I/O
            (``is_async``) grade the batch concurrently, as ``agrade_batch`` does.
        """
        if self.is_async:
            return run_sync(self.agrade_batch(samples, items))
        if items is None:
            items = [_EMPTY] * len(samples)
        elif len(items) != len(samples):
            raise ValueError(f"grade_batch got {len(samples)} samples but {len(items)} items")
        return ScoreBatch(self._grade_rows(samples, items))

    def _grade_rows(self, samples: Sequence[SampleLike], items: Sequence[Mapping[str, Any]]) -> list[Score]:
        """``grade_batch`` after its checks; kinds override it with a loop specialised at compile time.

        An override must give exactly the Scores ``grade`` gives; the simple way is to handle
        the common case inline and hand any other sample (or any failure) to ``grade``.
        """
        # The per-sample loop of every training step: locals, and no Sample.of call for plain text.
        grade = self._grade
        of = Sample.of
        out: list[Score] = []
        append = out.append
        for sample, item in zip(samples, items, strict=True):
            try:
                append(grade(Sample(sample) if sample.__class__ is str else of(sample), item))
            except Exception as exc:  # noqa: BLE001 - see grade()
                append(error_score(exc))
        return out

    async def agrade(self, sample: SampleLike, item: Mapping[str, Any] | None = None) -> Score:
        """Async ``grade``: awaits I/O (model judges) without blocking the event loop."""
        try:
            return await self._agrade(Sample.of(sample), _EMPTY if item is None else item)
        except Exception as exc:  # noqa: BLE001 - see grade()
            return error_score(exc)

    async def agrade_batch(
        self, samples: Sequence[SampleLike], items: Sequence[Mapping[str, Any]] | None = None
    ) -> ScoreBatch:
        """Async ``grade_batch``; kinds that wait on I/O grade the samples concurrently.

        Returns:
            The Scores, as a ``ScoreBatch`` whose ``.usage`` holds the token usage per model
            summed over the batch (empty for kinds that call no model).
        """
        if not self.is_async:
            return self.grade_batch(samples, items)
        if items is None:
            items = [_EMPTY] * len(samples)
        elif len(items) != len(samples):
            raise ValueError(f"agrade_batch got {len(samples)} samples but {len(items)} items")
        with track_usage() as meter:
            scores = await asyncio.gather(*(self.agrade(s, i) for s, i in zip(samples, items, strict=True)))
        return ScoreBatch(scores, meter.snapshot())

    def close(self) -> None:
        """Releases what the grader holds (worker processes, HTTP clients); idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec.type} {self.name!r}>"


class TemplateGrader(Grader[SpecT]):
    """The base of kinds that compare an ``input`` template with a ``reference`` template.

    Both are compiled here, once; the item fields the grader reads are those the two templates
    name. The testing tools read the templates from here to write outputs that aim at the reference.

    Attributes:
        input: The compiled ``input`` template (what the sample says).
        reference: The compiled ``reference`` template (what the item holds).
    """

    def __init__(self, spec: SpecT, input: str, reference: str) -> None:
        self.input = Template.parse(input, ("input",))
        self.reference = Template.parse(reference, ("reference",))
        super().__init__(spec, self.input.item_fields | self.reference.item_fields)


def error_score(exc: BaseException) -> Score:
    """Turns an exception raised while grading one sample into an error Score."""
    if isinstance(exc, MissingVariable):
        return Score.failure(ErrorKind.INVALID_VARIABLE_ERROR, str(exc))
    if isinstance(exc, SampleParseError):
        return Score.failure(ErrorKind.SAMPLE_PARSE_ERROR, str(exc))
    return Score.failure(ErrorKind.OTHER_ERROR, f"{type(exc).__name__}: {str(exc)[:500]}")
