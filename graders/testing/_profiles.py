"""What the testing tools know about each grader kind, keyed by ``type``.

A kind that has no profile here still gets the generic laws (range, determinism, no crash,
batch agreement) and, when its spec has ``input`` and ``reference`` templates, the reference and
empty-output laws and every probe. A profile adds what only that kind can say: how its reference
becomes an output, its score bounds, its own laws, and how to fix what a probe finds.
"""

from __future__ import annotations

import functools
import importlib
import math
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from graders._grader import Grader
from graders._template import Template
from graders.testing import _values as values
from graders.testing._slots import Slot

Bounds = tuple[float, float]
Expect = tuple[float | None, float | None]
"""The value the reference answer must score, and the value an empty output must score."""
# A kind law gets the grader, an item and a hypothesis draw function; it raises LawFailure.
Law = Callable[[Grader, Mapping[str, Any], Callable[..., Any]], None]

UNIT: Bounds = (0.0, 1.0)
# Scores are floats from sums and products: equal within this is equal.
SCORE_TOLERANCE = 1e-9


class LawFailure(Exception):
    """A law did not hold; carries the sample that broke it."""

    def __init__(self, law: str, message: str, sample: Any) -> None:
        super().__init__(message)
        self.law = law
        self.message = message
        self.sample = sample


def default_slots(grader: Grader) -> list[Slot]:
    spec = grader.spec
    inp, ref = getattr(spec, "input", None), getattr(spec, "reference", None)
    if isinstance(inp, str) and isinstance(ref, str):
        return [Slot(grader, Template.parse(inp), Template.parse(ref))]
    return []


def identity_answer(slot: Slot, item: Mapping[str, Any]) -> Any:
    return slot.reference_value(item)


def unit_bounds(grader: Grader) -> Bounds | None:
    return UNIT


@dataclass(frozen=True)
class KindProfile:
    """The testing tools' knowledge of one grader kind.

    Attributes:
        slots: Where the grader reads the output and what it compares it with.
        answer: The output value that earns full marks in a slot for an item (raises
            LookupError when there is none).
        bounds: The range every score must lie in (None: only finiteness is checked).
        expect: What the reference answer and an empty output must score (None: no law).
        reference_values: Values generated for the item field a reference template reads.
        laws: The kind's own laws, run on every item.
        specs: Random valid specs of this kind (None: built from the spec model's fields).
        fixes: Per probe name, how to fix a grader that the probe earns too much from: the text,
            or a function of the (sub-)grader giving it (None: the probe's own advice).
        judge: The kind is a model judge (the prompt-injection probe applies).
        tolerated_errors: Error kinds that break neither the reference law nor determinism (a
            time limit hit on a busy machine is not a wrong grade).
        item_fields: Item fields to generate beyond those the spec's templates name (a python
            grader reads the item in code, where no template shows it).
    """

    slots: Callable[[Grader], list[Slot]] = default_slots
    answer: Callable[[Slot, Mapping[str, Any]], Any] = identity_answer
    bounds: Callable[[Grader], Bounds | None] = unit_bounds
    expect: Callable[[Grader], Expect] | None = None
    reference_values: Callable[[Grader], st.SearchStrategy[Any]] = lambda grader: values.words()
    laws: tuple[Law, ...] = ()
    specs: Callable[[], st.SearchStrategy[dict[str, Any]]] | None = None
    fixes: Mapping[str, str | Callable[[Grader], str | None]] = field(default_factory=dict)
    judge: bool = False
    tolerated_errors: frozenset[str] = frozenset()
    item_fields: Callable[[Grader], Mapping[str, st.SearchStrategy[Any]]] = lambda grader: {}


_PROFILES: dict[str, KindProfile] = {}
_DEFAULT = KindProfile()


def profile(kind: str) -> KindProfile:
    """The profile of ``kind`` (a default one for kinds without their own)."""
    _load_profiles()
    return _PROFILES.get(kind, _DEFAULT)


@functools.cache
def _load_profiles() -> None:
    from graders.testing import _kinds

    for module in pkgutil.iter_modules(_kinds.__path__):
        importlib.import_module(f"graders.testing._kinds.{module.name}")


def add_profile(kind: str, kind_profile: KindProfile) -> None:
    """Registers what the testing tools know about ``kind``."""
    _PROFILES[kind] = kind_profile


def slots_of(grader: Grader) -> list[Slot]:
    """Every slot of the grader, its sub-graders' included."""
    return profile(grader.spec.type).slots(grader)


def bounds_of(grader: Grader) -> Bounds | None:
    return profile(grader.spec.type).bounds(grader)


def expectations(grader: Grader) -> Expect:
    """(value of the reference answer, value of an empty output) the grader must give."""
    kind = profile(grader.spec.type)
    if kind.expect is not None:
        return kind.expect(grader)
    if not slots_of(grader):
        return (None, None)
    b = kind.bounds(grader)
    return (None, None) if b is None else (b[1], b[0])


def close(a: float, b: float) -> bool:
    """Float equality for scores."""
    return math.isclose(a, b, rel_tol=SCORE_TOLERANCE, abs_tol=SCORE_TOLERANCE)


def answers_of(
    grader: Grader, item: Mapping[str, Any], answer: Callable[[Slot, Mapping[str, Any]], Any]
) -> Iterator[tuple[Slot, Any]]:
    """Each slot of a (leaf) grader with its answer for ``item``; slots without one are left out."""
    for slot in default_slots(grader):
        try:
            yield slot, answer(slot, item)
        except LookupError:
            continue
