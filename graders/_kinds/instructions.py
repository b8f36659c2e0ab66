"""``instructions``: IFEval-style verifiable constraints on the output (counts, keywords, format)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import ConfigDict, Field

from graders._constraints import CHECKERS, coerce_args, loose_variants
from graders._errors import ErrorKind, SpecError, did_you_mean
from graders._grader import Grader
from graders._registry import register
from graders._spec import BaseSpec
from graders._template import Template
from graders._types import Sample, Score

# Longer outputs are not checked: a regex pass per constraint and variant must stay cheap.
MAX_INPUT_CHARS = 200_000

EXAMPLE: dict[str, Any] = {
    "type": "instructions",
    "name": "ifeval",
    "input": "{{sample.output_text}}",
    "constraints": [
        {"id": "length_constraints:number_words", "relation": "at least", "num_words": "{{item.min_words}}"},
        {"id": "punctuation:no_comma"},
    ],
}


class InstructionsSpec(BaseSpec):
    """Checks ``input`` against IFEval's verifiable instructions; the score is the share followed.

    ``constraints`` is a list of ``{"id": ..., args}`` using IFEval's ids and argument names
    (any argument may be a template such as ``"{{item.n}}"``), or one template giving such a
    list from the item (IFEval's rows: ``instruction_id_list`` zipped with ``kwargs``). Ids:
    ``length_constraints:number_words|number_sentences|number_paragraphs``,
    ``keywords:existence|forbidden_words|frequency|letter_frequency``,
    ``language:response_language``, ``detectable_format:json_format|number_bullet_lists|
    number_highlighted_sections|title``, ``detectable_content:postscript|number_placeholders``,
    ``startend:start_checker|end_checker|quotation``, ``change_case:english_lowercase|
    english_capital`` and ``punctuation:no_comma``. Relations are ``"less than"`` or
    ``"at least"``.

    ``mode: "loose"`` also accepts a constraint when the output passes with its first line,
    its last line or both removed, or with its ``*`` markdown removed (the paper's loose
    accuracy). ``scoring: "all"`` scores 1 only when every constraint is followed.
    ``details.constraints`` lists each constraint's verdict. Constraints from the item that are
    unusable (unknown id, bad argument) give ``reference_parse_error``.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    type: Literal["instructions"] = "instructions"
    input: str = "{{sample.output_text}}"
    constraints: list[dict[str, Any]] | str = Field(min_length=1)
    mode: Literal["strict", "loose"] = "strict"
    scoring: Literal["fraction", "all"] = "fraction"


class _Constraint:
    """One constraint of the spec: its id and its arguments, some of them templates."""

    def __init__(self, raw: Mapping[str, Any], path: tuple[str | int, ...]) -> None:
        instruction = raw.get("id")
        if not isinstance(instruction, str) or instruction not in CHECKERS:
            hint = did_you_mean(str(instruction), CHECKERS) if isinstance(instruction, str) else ""
            raise SpecError(f"unknown instruction {instruction!r}", (*path, "id"), hint)
        self.id = instruction
        self.check = CHECKERS[instruction].check
        args = {k: v for k, v in raw.items() if k != "id"}
        self.templates = {k: Template.parse(v, (*path, k)) for k, v in args.items() if isinstance(v, str) and "{{" in v}
        placeholder = {k: ("1" if CHECKERS[instruction].args.get(k) is int else "x") for k in self.templates}
        try:
            coerce_args(instruction, {**args, **placeholder})
        except ValueError as exc:
            raise SpecError(str(exc), path) from None
        self.fixed = {k: v for k, v in args.items() if k not in self.templates}
        self.static = coerce_args(instruction, args) if not self.templates else None

    def args(self, sample: Sample, item: Mapping[str, Any]) -> dict[str, Any]:
        if self.static is not None:
            return self.static
        values = {k: t.resolve(sample, item) for k, t in self.templates.items()}
        return coerce_args(self.id, {**self.fixed, **values})


class InstructionsGrader(Grader):
    def __init__(self, spec: InstructionsSpec) -> None:
        self.input = Template.parse(spec.input, ("input",))
        fields = set(self.input.item_fields)
        if isinstance(spec.constraints, str):
            self.from_item: Template | None = Template.parse(spec.constraints, ("constraints",))
            self.constraints: list[_Constraint] = []
            fields |= self.from_item.item_fields
        else:
            self.from_item = None
            self.constraints = [_Constraint(c, ("constraints", i)) for i, c in enumerate(spec.constraints)]
            for c in self.constraints:
                for t in c.templates.values():
                    fields |= t.item_fields
        super().__init__(spec, fields)
        self.loose = spec.mode == "loose"
        self.all = spec.scoring == "all"

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        text = self.input.render(sample, item)
        if len(text) > MAX_INPUT_CHARS:
            return Score.failure(
                ErrorKind.INPUT_TOO_LONG, f"the output is {len(text)} characters, over {MAX_INPUT_CHARS}"
            )
        try:
            checks = self._checks(sample, item)
        except (ValueError, TypeError, SpecError) as exc:
            return Score.failure(ErrorKind.REFERENCE_PARSE_ERROR, f"unusable constraints: {exc}")
        variants = loose_variants(text) if self.loose else [text]
        verdicts = []
        for instruction, check, args in checks:
            followed = any(check(v, **args) for v in variants if v or not self.loose)
            verdicts.append({"id": instruction, **args, "followed": followed})
        count = sum(bool(v["followed"]) for v in verdicts)
        value = float(count == len(verdicts)) if self.all else count / len(verdicts)
        details = {"constraints": verdicts, "mode": "loose" if self.loose else "strict"}
        return Score(value, count == len(verdicts), details)

    def _checks(self, sample: Sample, item: Mapping[str, Any]) -> Sequence[tuple[str, Any, dict[str, Any]]]:
        if self.from_item is None:
            return [(c.id, c.check, c.args(sample, item)) for c in self.constraints]
        raw = self.from_item.resolve(sample, item)
        if not isinstance(raw, list) or not raw or not all(isinstance(c, Mapping) for c in raw):
            raise ValueError("constraints must be a non-empty list of {'id': ..., args}")
        out = []
        for c in raw:
            args = {k: v for k, v in c.items() if k != "id" and v is not None}
            instruction = str(c.get("id"))
            out.append(
                (
                    instruction,
                    CHECKERS[instruction].check if instruction in CHECKERS else None,
                    coerce_args(instruction, args),
                )
            )
        return out


@register(InstructionsSpec)
def compile_instructions(spec: InstructionsSpec) -> Grader:
    return InstructionsGrader(spec)
