"""``math``: symbolic equivalence of a LaTeX or plain-text answer with a reference answer."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import ConfigDict, Field

from graders._errors import ErrorKind
from graders._grader import Grader, TemplateGrader
from graders._math.compare import (
    Comparison,
    LimitExceeded,
    check_symbolic_limits,
    sympy_parse,
)
from graders._math.deadline import DeadlineExceeded, run_with_deadline
from graders._math.expr import TextAnswer, TooLarge, Unsupported, parse
from graders._math.final import decimal_commas, strip_reasoning
from graders._math.latex import (
    Node,
    StructureError,
    after_cue,
    alternatives,
    extract_answers,
    key,
    normalize,
    structure,
)
from graders._math.numbers import last_boxed
from graders._math.options import HEDGE_NOTE, AnswerOptions
from graders._registry import register
from graders._types import Sample, Score, clip

# Outputs longer than this are not read (the final answer never needs a megabyte of text).
MAX_INPUT_CHARS = 1_000_000
# An extracted answer longer than this is not a final answer; it is refused before parsing.
MAX_ANSWER_CHARS = 10_000
# Default deadline of one comparison; only its symbolic (sympy) step can take that long.
DEFAULT_TIMEOUT_S = 2.0
# A reference up to this long is the answer itself; a longer one may be a worked solution.
MAX_BARE_REFERENCE_CHARS = 40

# A minimal spec of this kind: shown in the JSON Schema and used by the round-trip tests.
EXAMPLE: dict[str, Any] = {
    "type": "math",
    "name": "math",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
}

class MathSpec(AnswerOptions):
    """Scores 1 when the answer in ``input`` is mathematically equal to ``reference``, else 0.

    Extraction (``extract="auto"``): the ``\\boxed{...}`` answers, else what follows the last
    answer cue ("the answer is", "Answer:", "Final Answer:", "Answer $9$"; math delimiters right
    after the cue are read across a line break; a prose sentence "The largest n is 34." is read
    from its last "is"), else the last ``$...$`` of a long output, else the whole text.
    ``extract="none"`` takes the whole input as the answer. A reasoning trace (up to the last
    ``</think>``, see ``reasoning_tags``) is dropped first. The reference is read the same way
    when it holds a box or, past 40 characters, an answer cue (a worked solution); a bare
    reference stays as it is.

    Hedging (``hedging="refuse"``, the default): several boxes, or "a or b", answer a reference
    that is a set (``\\boxed{1}\\boxed{2}`` for ``1, 2``); against any other reference, answers
    that differ from each other score 0 with ``details["hedge"]`` (boxes equal in value, such as
    ``15\\frac{39}{40}`` and ``\\frac{639}{40}``, are one answer). ``hedging="allow"`` reads the
    last box. See docs/math.md.

    Relations: ``relations="bounds"`` (default) lets ``-2 \\le x \\le 7`` answer ``[-2, 7]`` (an
    inequality of a bare variable with constant bounds only, so an echoed ``x^2 - 4 < 0``
    answers no interval); ``"separate"`` never equates an inequality with an interval.
    Matrices in any environment, and scalar multiples and sums of them, compare cell by cell;
    ``(p,q)=(3,2)`` answers ``(3,2)``; ``precision`` and ``decimal_comma`` as in ``numeric``.

    Equal means: the same structure (tuples and intervals in order, with the same brackets;
    sets, bare lists ``1, -2`` and ``\\pm`` in any order; unions; matrices of the same shape)
    with equal leaves. Leaves are compared cheaply first: the normalised strings (``\\dfrac``,
    ``\\left(``, spacing, ``$``, ``^\\circ``, ``\\text{ cm}`` units, ``15,\\!000`` all folded);
    then exact rational values (``\\frac{1}{2}`` = ``0.5`` = ``1/2``; ``1\\frac{4}{5}`` is the
    mixed number 9/5); then values at fixed test points with relative tolerance 1e-9 (so
    ``\\sqrt{8}`` = ``2\\sqrt2`` and ``(x+1)^2`` = ``x^2+2x+1``; a decimal approximation
    equals an irrational only to 9 significant digits); only then sympy. ``timeout_s`` bounds the
    whole comparison (and, separately, the first reading of a reference).

    Surprising cases: ``x = 3`` answers ``3`` (and ``3`` answers ``x = 3``) when one side is
    a bare name; two equations are equal when one is a multiple of the other (``x=2`` and
    ``2=x``); ``x<2`` equals ``2>x``; ``33.5\\%`` equals both ``0.335`` and ``33.5`` (a
    percent sign is read as /100 or as a unit left off); ``74^\\circ`` equals ``74``;
    ``52_8`` and ``\\text{Evelyn}`` are text and compare as case-folded text; ``e`` and ``i``
    are Euler's number and the imaginary unit.

    Limits: outputs over 1,000,000 characters give error ``input_too_long``; a boxed or stated
    answer beyond the size, nesting or exponent limits gives ``math_limit`` (a long output with
    no marked answer scores 0); a comparison past
    ``timeout_s`` gives ``math_timeout``. A reference that is empty, has unbalanced braces or
    cannot be parsed at all gives ``reference_parse_error`` (not scored).
    """

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    type: Literal["math"] = "math"
    input: str = "{{sample.output_text}}"
    reference: str
    extract: Literal["auto", "none"] = "auto"
    relations: Literal["bounds", "separate"] = Field(
        default="bounds",
        description=(
            "'bounds' (default): an inequality that bounds a bare variable by constants "
            "('-2 \\le x \\le 7', 'x > 3') equals the interval it describes; any other inequality "
            "(the problem's own, echoed: 'x^2 - 5x - 14 \\le 0') equals no interval. 'separate': "
            "inequalities and intervals never compare equal."
        ),
    )
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=60, allow_inf_nan=False)


# An output with a box or an answer cue is read by them; only an unmarked one may be the
# reference as a whole (prose such as "$g(x)=..$ for some $a>0$").
_MARKED = re.compile(r"(?i)\\boxed|answer")


class _BadReference(Exception):
    pass


@functools.lru_cache(maxsize=4096)
def _reference(text: str, timeout: float, decimal_comma: bool = False) -> tuple[str, Node]:
    # A reference is the answer itself: only a box or an answer cue is taken out of it (a worked
    # solution); the last-$...$ rule is for chains of thought ("$g(x)=..$ for some $a>0$" must
    # not shrink to "a>0").
    if len(text) > MAX_INPUT_CHARS:
        raise _BadReference(f"the reference is over {MAX_INPUT_CHARS} characters")
    picked = last_boxed(text)
    if picked is None and len(text) > MAX_BARE_REFERENCE_CHARS:
        picked = after_cue(text)
    answer = normalize(picked or text)
    if decimal_comma:
        answer = decimal_commas(answer)
    if not answer:
        raise _BadReference("the reference is empty")
    if len(answer) > MAX_ANSWER_CHARS:
        raise _BadReference(f"the reference is over {MAX_ANSWER_CHARS} characters")
    try:
        node = structure(answer)
    except StructureError as exc:
        raise _BadReference(f"cannot read the reference: {exc}") from None
    clock = Comparison(timeout)  # one deadline for all the leaves
    for leaf in _leaves(node):
        _check_leaf(leaf, clock)
    return answer, node


def _leaves(node: Node) -> list[str]:
    if node.kind == "leaf":
        return [node.text]
    return [leaf for part in node.parts for leaf in _leaves(part)]


def _check_leaf(text: str, clock: Comparison) -> None:
    if not text.strip():
        raise _BadReference("the reference has an empty part")
    try:
        parse(text)
        return
    except (TextAnswer, TooLarge):
        return
    except Unsupported:
        pass
    try:
        check_symbolic_limits(text)
    except LimitExceeded as exc:
        raise _BadReference(f"cannot parse the reference: {exc}") from None
    clock.load_sympy()
    try:
        run_with_deadline(sympy_parse, text, timeout=clock.remaining())
    except DeadlineExceeded:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure means an unusable reference
        raise _BadReference(f"cannot parse the reference {text!r}: {str(exc)[:200]}") from None


class MathGrader(TemplateGrader[MathSpec]):
    def __init__(self, spec: MathSpec) -> None:
        super().__init__(spec, spec.input, spec.reference)
        self.extract = spec.extract
        self.timeout = spec.timeout_s
        self.relations = spec.relations
        self.refuse_hedges = spec.hedging == "refuse"
        self.reasoning_tags = spec.reasoning_tags
        self.decimal_comma = spec.decimal_comma
        self.precision = spec.precision

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        ref_text = self.reference.render(sample, item)
        try:
            reference, gold = _reference(ref_text, self.timeout, self.decimal_comma)
        except _BadReference as exc:
            return Score.failure(ErrorKind.REFERENCE_PARSE_ERROR, str(exc), reference=clip(ref_text))
        except DeadlineExceeded as exc:
            return Score.failure(ErrorKind.MATH_TIMEOUT, f"parsing the reference: {exc}", reference=clip(ref_text))
        details: dict[str, Any] = {"reference": clip(reference)}
        text = self.input.render(sample, item)
        if len(text) > MAX_INPUT_CHARS:
            message = f"output is {len(text)} characters, over {MAX_INPUT_CHARS}"
            return Score.failure(ErrorKind.INPUT_TOO_LONG, message, **details)
        text = strip_reasoning(text, self.reasoning_tags)
        if len(text) <= 2 * len(ref_text) + 50 and _MARKED.search(text) is None:
            whole = normalize(text)  # an output that is the reference as a whole, e.g. text around $..$
            if key(whole) == key(reference):
                return Score(1.0, True, {"extracted": clip(whole), **details, "method": "string"})
        raws, marked = extract_answers(text) if self.extract == "auto" else ([text], True)
        if any(len(raw) > MAX_ANSWER_CHARS for raw in raws):
            if not marked:  # a long output with no boxed or stated answer: graded 0, not an error
                return Score(0.0, False, {"extracted": None, **details, "note": "no final answer found"})
            return Score.failure(ErrorKind.MATH_LIMIT, f"answer is over {MAX_ANSWER_CHARS} characters", **details)
        answers = [a for a in dict.fromkeys(self._normalize(raw) for raw in raws) if a]
        details = {"extracted": clip(" ; ".join(answers)), **details}
        if not answers:
            return Score(0.0, False, details)
        comparison = Comparison(self.timeout, relations=self.relations, precision=self.precision)
        try:
            # one answer may still be several: "3 or 5"
            preds = [structure(a) for a in (alternatives(answers[0]) if len(answers) == 1 else answers)]
            ok = self._judge(comparison, gold, preds, details)
        except StructureError as exc:
            return Score(0.0, False, {**details, "method": "structure", "note": str(exc)})
        except LimitExceeded as exc:
            return Score.failure(ErrorKind.MATH_LIMIT, str(exc), **details)
        except DeadlineExceeded as exc:
            return Score.failure(ErrorKind.MATH_TIMEOUT, str(exc), **details)
        details["method"] = "+".join(sorted(comparison.methods)) or "structure"
        return Score(1.0 if ok else 0.0, ok, details)

    def _normalize(self, raw: str) -> str:
        answer = normalize(raw, plain_units=True)
        return decimal_commas(answer) if self.decimal_comma else answer

    def _judge(self, comparison: Comparison, gold: Node, preds: list[Node], details: dict[str, Any]) -> bool:
        """Whether the answers ``preds`` (several boxes, or "a or b") answer ``gold``."""
        if len(preds) > 1:
            if gold.kind == "set" and len(gold.parts) > 1:
                # \boxed{1}\boxed{2} (or "1 or 2") for the set {1, 2}
                if comparison.equal(gold, Node("set", parts=tuple(_flatten(preds)))):
                    return True
                if self.refuse_hedges and any(comparison.equal(gold, p) for p in preds):
                    details["hedge"] = HEDGE_NOTE  # the whole set, and something else besides
                return False
            first = preds[0]
            if not all(comparison.equal(first, other) for other in preds[1:]):
                if self.refuse_hedges:
                    details["hedge"] = HEDGE_NOTE
                    return False
            preds = preds[-1:]
        pred = preds[0]
        ok = comparison.equal(gold, pred)
        if not ok and self.refuse_hedges and pred.kind == "set" and gold.kind == "leaf" and len(pred.parts) > 1:
            details["hedge"] = HEDGE_NOTE  # a list of candidates where one answer is asked for
        return ok


def _flatten(nodes: list[Node]) -> list[Node]:
    return [part for node in nodes for part in (node.parts if node.kind == "set" else (node,))]


@register(MathSpec)
def compile_math(spec: MathSpec) -> Grader:
    return MathGrader(spec)
