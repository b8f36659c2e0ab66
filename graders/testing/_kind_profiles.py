"""The profiles of the built-in kinds: their spec strategies, answers, bounds and laws."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import strategies as st

from graders._grader import Grader
from graders._template import Template
from graders.testing import _values as values
from graders.testing._profiles import (
    Bounds,
    Expect,
    KindProfile,
    LawFailure,
    add_profile,
    bounds_of,
    default_slots,
    multi_bounds,
    multi_expect,
    multi_slots,
)
from graders.testing._slots import Slot

_CLOSE = 1e-9
_CONTAINS_FIX = (
    "`like`/`ilike` pay any output that contains the reference; compare an extracted answer with `eq` "
    "(e.g. `{{sample.output_json.answer}}`) or guard the length in a `multi`"
)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_CLOSE, abs_tol=_CLOSE)


# --- string_check ------------------------------------------------------------------------------


def _string_check_expect(grader: Grader) -> Expect:
    return (0.0, 1.0) if grader.spec.operation == "ne" else (1.0, 0.0)  # type: ignore[attr-defined]


@st.composite
def _string_check_specs(draw: st.DrawFn) -> dict[str, Any]:
    inp, ref = draw(
        st.sampled_from(
            [
                ("{{sample.output_text}}", "{{item.answer}}"),
                ("{{ sample.output_json.answer }}", "{{item.answer}}"),
                ("{{sample.output_json.result.label}}", "{{item.expected.label}}"),
                ("Answer: {{sample.output_text}}", "Answer: {{item.answer}}"),
                ("{{sample.output_tools[0].function.name}}", "get_weather"),
            ]
        )
    )
    op = draw(st.sampled_from(["eq", "ne", "like", "ilike"]))
    return {"type": "string_check", "name": f"check_{op}", "input": inp, "reference": ref, "operation": op}


def _ilike_case_law(grader: Grader, item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """``ilike`` does not care about the case of ASCII letters in the output."""
    if grader.spec.operation != "ilike" or grader.spec.input != "{{sample.output_text}}":  # type: ignore[attr-defined]
        return
    text = draw(values.words(), label="output_text")
    for variant in (text.upper(), text.lower()):
        a, b = grader.grade(text, item).value, grader.grade(variant, item).value
        if a != b:
            raise LawFailure("ilike_ignores_case", f"{text!r} scored {a} but {variant!r} scored {b}", variant)


add_profile(
    "string_check",
    KindProfile(
        expect=_string_check_expect,
        laws=(_ilike_case_law,),
        specs=_string_check_specs,
        fixes={
            "padded_list": _CONTAINS_FIX,
            "multiple_answers": _CONTAINS_FIX,
            "multiple_boxed": _CONTAINS_FIX,
            "missing_fields": "the grader reads only some fields of the JSON output; check every field that matters",
        },
    ),
)


# --- multi -------------------------------------------------------------------------------------

_LEAF_KINDS_FOR_MULTI = ("string_check", "list_rank", "text_similarity", "field_match", "numeric")


def _multi_formula_law(grader: Grader, item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """The multi value is the formula of its sub-scores and lies within the formula's bounds."""
    from graders.testing._strategies import samples_for

    sample = draw(samples_for(grader, item), label="sample")
    score = grader.grade(sample, item)
    subs = score.details.get("sub_scores")
    if score.error is not None and score.error.kind == "formula_eval_error":
        return
    if not isinstance(subs, dict):
        raise LawFailure("multi_formula", "details has no sub_scores", sample)
    expected = grader.formula.evaluate(subs)  # type: ignore[attr-defined]
    if not close(score.value, expected):
        raise LawFailure("multi_formula", f"value {score.value} but the formula of {subs} is {expected}", sample)
    bounds = bounds_of(grader)
    if bounds is not None and not bounds[0] - _CLOSE <= score.value <= bounds[1] + _CLOSE:
        raise LawFailure("multi_bounds", f"value {score.value} outside the formula's bounds {bounds}", sample)


@st.composite
def _multi_specs(draw: st.DrawFn) -> dict[str, Any]:
    from graders._registry import kinds
    from graders.testing._strategies import compiles, specs

    leaves = [k for k in _LEAF_KINDS_FOR_MULTI if k in kinds()]
    n = draw(st.integers(1, 3))
    keys = ["a", "b", "c"][:n]
    children = {}
    for key in keys:
        child = draw(specs(draw(st.sampled_from(leaves))).filter(compiles))
        children[key] = child
    weights = [draw(st.integers(1, 9)) for _ in keys]
    total = sum(weights)
    formulas = [
        " + ".join(f"{w / total:.4g} * {k}" for w, k in zip(weights, keys, strict=True)),
        f"({' + '.join(keys)}) / {n}",
        f"min({', '.join(keys)})",
        f"max({', '.join(keys)})",
        " * ".join(keys),
    ]
    formula = draw(st.sampled_from(formulas))
    return {"type": "multi", "name": "combined", "graders": children, "calculate_output": formula}


add_profile(
    "multi",
    KindProfile(
        slots=multi_slots,
        bounds=multi_bounds,
        expect=multi_expect,
        laws=(_multi_formula_law,),
        specs=_multi_specs,
    ),
)



# --- list_rank ---------------------------------------------------------------------------------


def _list_rank_answer(slot: Slot, item: Mapping[str, Any]) -> Any:
    reference = slot.reference_value(item)
    if isinstance(reference, str) and reference.lstrip().startswith("["):
        try:
            reference = json.loads(reference)
        except ValueError:
            pass
    if isinstance(reference, list):
        firsts = [r for r in reference if isinstance(r, str | int | float) and not isinstance(r, bool)]
        return firsts[:1]
    return [reference]


def _list_rank_scores(grader: Grader) -> list[float]:
    spec = grader.spec
    if spec.decay == "table":  # type: ignore[attr-defined]
        return list(spec.table or [0.0])  # type: ignore[attr-defined]
    return [1.0]


def _list_rank_bounds(grader: Grader) -> Bounds:
    scores = _list_rank_scores(grader)
    return (min(0.0, *scores), max(1.0, *scores))


def _list_rank_expect(grader: Grader) -> Expect:
    return (_list_rank_scores(grader)[0], 0.0)


def _non_increasing_in_rank(grader: Grader, item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """Moving the right answer down the list never raises the score."""
    for slot in default_slots(grader):
        try:
            answer = _list_rank_answer(slot, item)
        except LookupError:
            continue
        if not answer:
            continue
        right = str(answer[0])
        others = draw(st.lists(values.symbols(), max_size=6, unique=True), label="other entries")
        others = [o for o in others if o.casefold() != right.casefold()]
        previous: tuple[float, Any] | None = None
        for rank in range(len(others) + 1):
            sample = slot.place([*others[:rank], right, *others[rank:]])
            if sample is None:
                return
            value = grader.grade(sample, item).value
            if previous is not None and value > previous[0] + 1e-12:
                raise LawFailure(
                    "non_increasing_in_rank", f"rank {rank + 1} scored {value}, more than rank {rank}'s {previous[0]}",
                    sample,
                )
            previous = (value, sample)


@st.composite
def _list_rank_specs(draw: st.DrawFn) -> dict[str, Any]:
    inp = draw(st.sampled_from(["{{sample.output_json.genes}}", "{{sample.output_text}}"]))
    spec: dict[str, Any] = {"type": "list_rank", "name": "rank", "input": inp, "reference": "{{item.correct_answer}}"}
    decay = draw(st.sampled_from(["table", "linear", "exponential", "reciprocal"]))
    spec["decay"] = decay
    if decay == "table":
        spec["table"] = sorted(draw(st.lists(st.floats(0, 1), min_size=1, max_size=5)), reverse=True)
    elif decay == "linear":
        spec["k"] = draw(st.integers(1, 10))
    elif decay == "exponential":
        spec["base"] = draw(st.floats(0.05, 0.95))
    for name, strategy in (("max_items", st.integers(1, 30)), ("cutoff", st.integers(1, 30))):
        if draw(st.booleans()):
            spec[name] = draw(strategy)
    if draw(st.booleans()):
        spec["case_sensitive"] = draw(st.booleans())
    return spec


add_profile(
    "list_rank",
    KindProfile(
        answer=_list_rank_answer,
        bounds=_list_rank_bounds,
        expect=_list_rank_expect,
        reference_values=lambda grader: values.symbols(),
        laws=(_non_increasing_in_rank,),
        specs=_list_rank_specs,
        fixes={
            "padded_list": "set `max_items` on list_rank (e.g. 20): a list with more distinct entries than that "
            "scores 0, so listing every candidate stops paying",
        },
    ),
)


# --- model judges (score_model, label_model) -----------------------------------------------------

# Item fields a judge's prompt most likely holds the reference answer in, best first.
_REFERENCE_NAMES = ("reference", "reference_answer", "correct_answer", "answer", "expected", "ideal", "ground_truth")
_JUDGE_FIX = {
    "over_long": "the judge pays for padding; tell it to penalise verbosity and cap the length in a `multi`",
    "repeated": "the judge pays for repetition; tell it to penalise verbosity and cap the length in a `multi`",
}


def _judge_slots(grader: Grader) -> list[Slot]:
    """A judge has no reference template; aim at the item field its prompt shows as the answer."""
    texts = [m.content for m in grader.spec.input if isinstance(m.content, str)]  # type: ignore[attr-defined]
    templates = [Template.parse(text) for text in texts]
    if not any("{{" in t.source and "sample.output_text" in t.source for t in templates):
        return []
    fields = set().union(*(t.item_fields for t in templates))
    for name in _REFERENCE_NAMES:
        if name in fields:
            return [Slot(grader, Template.parse("{{sample.output_text}}"), Template.parse(f"{{{{item.{name}}}}}"))]
    return []


def _score_model_bounds(grader: Grader) -> Bounds:
    low, high = grader.spec.range or (0.0, 1.0)  # type: ignore[attr-defined]
    return (min(low, 0.0), max(high, 0.0))  # an error score is 0, whatever the range


_JUDGE_MESSAGES = [
    {"role": "system", "content": "Grade the answer against the reference. Reply with a score."},
    {"role": "user", "content": "Reference: {{item.answer}}\nAnswer: {{sample.output_text}}"},
]


@st.composite
def _score_model_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "score_model", "name": "judge", "model": "judge-model", "input": _JUDGE_MESSAGES}
    if draw(st.booleans()):
        low = draw(st.integers(-2, 1))
        spec["range"] = [float(low), float(low + draw(st.integers(1, 3)))]
    if draw(st.booleans()):
        spec["sampling_params"] = {"temperature": 0.0, "seed": draw(st.integers(0, 100))}
    if draw(st.booleans()):
        spec["pass_threshold"] = draw(st.sampled_from([0.5, 0.75]))
    return spec


@st.composite
def _label_model_specs(draw: st.DrawFn) -> dict[str, Any]:
    labels = draw(st.lists(st.sampled_from(["correct", "partial", "wrong", "unsure"]), min_size=1, unique=True))
    passing = draw(st.lists(st.sampled_from(labels), min_size=1, unique=True))
    return {
        "type": "label_model", "name": "labeler", "model": "judge-model", "input": _JUDGE_MESSAGES,
        "labels": labels, "passing_labels": passing,
    }


add_profile(
    "score_model",
    KindProfile(slots=_judge_slots, bounds=_score_model_bounds, expect=lambda g: (None, None),
                specs=_score_model_specs, fixes=_JUDGE_FIX, judge=True),
)
add_profile(
    "label_model",
    KindProfile(slots=_judge_slots, expect=lambda g: (None, None), specs=_label_model_specs, fixes=_JUDGE_FIX,
                judge=True),
)


# --- python --------------------------------------------------------------------------------------

_PYTHON_SOURCES = (
    "def grade(sample, item):\n    return 1.0 if sample['output_text'].strip() == str(item['answer']) else 0.0\n",
    "def grade(sample, item):\n"
    "    from rapidfuzz import fuzz, utils\n"
    "    return fuzz.ratio(sample['output_text'], str(item['answer']), processor=utils.default_process) / 100\n",
    "def grade(sample, item):\n"
    "    out = sample.get('output_json') or {}\n"
    "    return float(isinstance(out, dict) and out.get('answer') == item['answer'])\n",
)


@st.composite
def _python_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "python", "name": "code", "source": draw(st.sampled_from(_PYTHON_SOURCES))}
    if draw(st.booleans()):
        spec["image_tag"] = "2025-05-08"
    return spec


# A python grader returns any float; nothing but finiteness can be promised for it.
add_profile("python", KindProfile(bounds=lambda g: None, expect=lambda g: (None, None), specs=_python_specs))


# --- text_similarity ---------------------------------------------------------------------------

# Metrics that score a text against itself below 1 by design: METEOR's fragmentation penalty.
_SELF_BELOW_ONE = ("meteor",)
_SIMILARITY_FIX = (
    "a similarity metric pays for partial overlap; for short answers compare exactly (string_check `eq`), or "
    "pick a stricter `fuzzy_scorer` (`ratio`) and guard the length in a `multi`"
)


def _min_words(grader: Grader) -> int:
    """BLEU needs 4 tokens and ROUGE-n n tokens before a text can match itself at all."""
    metric = grader.spec.evaluation_metric  # type: ignore[attr-defined]
    if metric == "bleu":
        return 4
    if metric.startswith("rouge_") and metric[-1].isdigit():
        return int(metric[-1])
    return 1


def _text_similarity_expect(grader: Grader) -> Expect:
    metric = grader.spec.evaluation_metric  # type: ignore[attr-defined]
    return (None if metric in _SELF_BELOW_ONE else 1.0, 0.0)


@st.composite
def _text_similarity_specs(draw: st.DrawFn) -> dict[str, Any]:
    metrics = ["fuzzy_match", "bleu", "gleu", "meteor", "rouge_1", "rouge_2", "rouge_3", "rouge_l"]
    metric = draw(st.sampled_from(metrics))  # cosine parses but needs an embeddings model
    spec: dict[str, Any] = {
        "type": "text_similarity", "name": "similar", "input": "{{sample.output_text}}",
        "reference": "{{item.answer}}", "evaluation_metric": metric,
    }
    if draw(st.booleans()):
        spec["pass_threshold"] = draw(st.sampled_from([0.5, 0.8, 0.9]))
    if metric == "fuzzy_match" and draw(st.booleans()):
        spec["fuzzy_scorer"] = draw(st.sampled_from(["WRatio", "QRatio", "ratio", "token_set_ratio"]))
    if metric.startswith("rouge") and draw(st.booleans()):
        spec["rouge_measure"] = draw(st.sampled_from(["fmeasure", "precision", "recall"]))
    if metric == "bleu" and draw(st.booleans()):
        spec["bleu_smoothing"] = draw(st.sampled_from(["none", "method1", "method4"]))
    return spec


add_profile(
    "text_similarity",
    KindProfile(
        expect=_text_similarity_expect,
        reference_values=lambda grader: values.words(_min_words(grader), _min_words(grader) + 5),
        specs=_text_similarity_specs,
        fixes={name: _SIMILARITY_FIX for name in ("padded_list", "multiple_answers", "multiple_boxed", "format_only")},
    ),
)


# --- field_match ---------------------------------------------------------------------------------

_FIELD_VALUES: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    "exact": lambda: st.one_of(values.words(1, 2), st.integers(-100, 100), st.booleans()),
    "ilike": lambda: values.words(1, 3),
    "fuzzy": lambda: values.words(1, 4),
    "numeric": lambda: values.numbers(),
    "set": lambda: st.lists(values.symbols(), min_size=1, max_size=4, unique=True),
}


def _field_match_answer(slot: Slot, item: Mapping[str, Any]) -> Any:
    reference = slot.reference_value(item)
    if isinstance(reference, str):
        try:
            return json.loads(reference)
        except ValueError:
            return reference
    return reference


def _field_match_references(grader: Grader) -> st.SearchStrategy[Any]:
    rules = grader.spec.fields  # type: ignore[attr-defined]
    if not rules:
        return values.flat_objects()
    fixed = {name: _FIELD_VALUES[rule.compare]() for name, rule in rules.items()}
    return st.fixed_dictionaries(fixed)


def _key_order_law(grader: Grader, item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """The order of the keys in the output object does not change the score."""
    for slot in default_slots(grader):
        try:
            answer = _field_match_answer(slot, item)
        except LookupError:
            continue
        if not isinstance(answer, dict) or len(answer) < 2:
            continue
        changed = draw(values.near_misses(answer), label="output object")
        for obj in (answer, changed):
            if not isinstance(obj, dict):
                continue
            keys = draw(st.permutations(list(obj)), label="key order")
            first, second = slot.place(obj), slot.place({k: obj[k] for k in keys})
            if first is None or second is None:
                continue
            a, b = grader.grade(first, item), grader.grade(second, item)
            if a.value != b.value or a.details.get("fields") != b.details.get("fields"):
                raise LawFailure("invariant_under_key_order", f"{a.value} in one key order, {b.value} in another",
                                 second)


@st.composite
def _field_match_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "field_match", "name": "fields", "reference": "{{item.expected}}"}
    if draw(st.booleans()):
        spec["input"] = "{{sample.output_json}}"
    if draw(st.booleans()):
        names = draw(st.lists(st.sampled_from(["name", "email", "age", "skills", "city"]), min_size=1, unique=True))
        fields: dict[str, Any] = {}
        for name in names:
            rule: dict[str, Any] = {"compare": draw(st.sampled_from(sorted(_FIELD_VALUES)))}
            if rule["compare"] == "fuzzy" and draw(st.booleans()):
                rule["threshold"] = draw(st.sampled_from([0.5, 0.8]))
            if rule["compare"] == "numeric" and draw(st.booleans()):
                rule["abs_tol"] = draw(st.sampled_from([0.0, 0.5]))
            if draw(st.booleans()):
                rule["weight"] = draw(st.sampled_from([0.5, 2.0]))
            fields[name] = rule
        spec["fields"] = fields
    for name, options in (("score", ["f1", "precision", "recall"]), ("extra_fields", ["penalize", "ignore"])):
        if draw(st.booleans()):
            spec[name] = draw(st.sampled_from(options))
    if draw(st.booleans()):
        spec["pass_threshold"] = 0.8
    return spec


add_profile(
    "field_match",
    KindProfile(
        answer=_field_match_answer,
        reference_values=_field_match_references,
        laws=(_key_order_law,),
        specs=_field_match_specs,
        fixes={
            "json_missing_fields": "`score: precision` does not count missing fields; use `f1` (the default) or "
            "`recall`",
            "json_moved_fields": "`extra_fields: ignore` lets extra keys cost nothing; use `penalize`",
        },
    ),
)


# --- numeric -------------------------------------------------------------------------------------

# The pattern the generated ``regex``-mode specs use, so their answers can be written for them.
_NUMERIC_PATTERN = r"Answer: (?P<answer>\S+)"
_NUMERIC_FORMATS = {
    "auto": "{}",
    "last_number": "{}",
    "first_number": "{}",
    "gsm8k": "#### {}",
    "boxed": "\\boxed{{{}}}",
    "regex": "Answer: {}",
}
_ONE_PLACE_FIX = (
    "`auto`, `last_number` and `first_number` read a number from anywhere in the output; give the answer one "
    "fixed place (`extract: gsm8k` or `boxed`) and keep `partial_credit` low"
)


def _numeric_format(grader: Grader, mode: str) -> str:
    if mode == "regex" and grader.spec.pattern != _NUMERIC_PATTERN:  # type: ignore[attr-defined]
        raise LookupError("cannot write an answer for a user's regex")
    return _NUMERIC_FORMATS[mode]


def _numeric_reference(slot: Slot, item: Mapping[str, Any]) -> tuple[str, str]:
    """The number the reference holds, as written and as the kind's exact value."""
    details = slot.grader.grade("", item)
    if details.error is not None:
        raise LookupError("the reference holds no number")
    return str(details.details["reference"]), str(details.details["reference_value"])


def _numeric_answer(slot: Slot, item: Mapping[str, Any]) -> Any:
    text, _ = _numeric_reference(slot, item)
    return _numeric_format(slot.grader, slot.grader.spec.extract).format(text)  # type: ignore[attr-defined]


def _number_variants(value: str) -> list[str]:
    """The same number written other ways: trailing zeros, thousands commas, Unicode minus,
    full-width digits."""
    out = [value + (".0" if "." not in value else "0")]
    digits = value.lstrip("-")
    if digits.isdigit() and len(digits) > 3:
        out.append(f"{int(value):,}")
    if value.startswith("-"):
        out.append("\u2212" + digits)
    out.append(value.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"}))
    return out


def _numeric_format_law(grader: Grader, item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """The same number written another way scores the same."""
    for slot in default_slots(grader):
        try:
            _, value = _numeric_reference(slot, item)
            template = _numeric_format(grader, grader.spec.extract)  # type: ignore[attr-defined]
        except LookupError:
            continue
        if "e" in value or "E" in value:
            continue
        variant = draw(st.sampled_from(_number_variants(value)), label="number written as")
        canonical, sample = slot.place(template.format(value)), slot.place(template.format(variant))
        if canonical is None or sample is None:
            continue
        base, got = grader.grade(canonical, item).value, grader.grade(sample, item).value
        if got != base:
            raise LawFailure("invariant_under_number_format", f"{value!r} scored {base} but {variant!r} {got}", sample)


def _numeric_references(grader: Grader) -> st.SearchStrategy[str]:
    mode = grader.spec.reference_extract  # type: ignore[attr-defined]
    written = st.one_of(
        st.integers(-10**6, 10**6).map(str),
        st.integers(1000, 10**7).map(lambda n: f"{n:,}"),
        st.decimals(-1000, 1000, places=2, allow_nan=False).map(str),
    )
    if mode == "regex":
        return written.map("Answer: {}".format)
    fmt = {"gsm8k": "We add them up.\n#### {}", "boxed": "so it is \\boxed{{{}}}"}.get(mode, "{}")
    return written.map(fmt.format)


@st.composite
def _numeric_specs(draw: st.DrawFn) -> dict[str, Any]:
    modes = ["auto", "gsm8k", "boxed", "last_number", "first_number", "regex"]
    spec: dict[str, Any] = {"type": "numeric", "name": "number", "reference": "{{item.answer}}"}
    if draw(st.booleans()):
        spec["input"] = "{{sample.output_text}}"
    spec["extract"] = draw(st.sampled_from(modes))
    spec["reference_extract"] = draw(st.sampled_from(modes))
    if "regex" in (spec["extract"], spec["reference_extract"]):
        spec["pattern"] = _NUMERIC_PATTERN
    for name, options in (
        ("abs_tol", [0.0, 0.01, 1.0]),
        ("rel_tol", [0.0, 1e-6]),
        ("percent", ["as_written", "fraction", "either"]),
        ("partial_credit", [0.0, 0.25]),
    ):
        if draw(st.booleans()):
            spec[name] = draw(st.sampled_from(options))
    return spec


add_profile(
    "numeric",
    KindProfile(
        answer=_numeric_answer,
        reference_values=_numeric_references,
        laws=(_numeric_format_law,),
        specs=_numeric_specs,
        fixes={"multiple_answers": _ONE_PLACE_FIX, "multiple_boxed": _ONE_PLACE_FIX, "padded_list": _ONE_PLACE_FIX},
    ),
)


# --- math ----------------------------------------------------------------------------------------


def _math_references(grader: Grader) -> st.SearchStrategy[str]:
    small = st.integers(1, 50)
    return st.one_of(
        st.integers(-1000, 1000).map(str),
        st.tuples(small, small).map(lambda ab: f"\\frac{{{ab[0]}}}{{{ab[1] + 1}}}"),
        st.tuples(small, st.sampled_from([2, 3, 5, 7])).map(lambda ab: f"{ab[0]}\\sqrt{{{ab[1]}}}"),
        st.tuples(small, small).map(lambda ab: f"({ab[0]}, {ab[1]})"),
        small.map(lambda a: f"{a}\\pi"),
    )


def _math_boxed_law(grader: Grader, item: Mapping[str, Any], draw: Callable[..., Any]) -> None:
    """The reference inside ``\\boxed{}`` at the end of a worked answer scores as the bare reference."""
    if grader.spec.extract != "auto":  # type: ignore[attr-defined]
        return
    for slot in default_slots(grader):
        try:
            answer = slot.reference_value(item)
        except LookupError:
            continue
        if not isinstance(answer, str) or "\\boxed" in answer:
            continue
        bare, boxed = slot.place(answer), slot.place(f"We simplify step by step. The answer is \\boxed{{{answer}}}.")
        if bare is None or boxed is None:
            continue
        a, b = grader.grade(bare, item), grader.grade(boxed, item)
        if a.error is None and b.error is None and a.value != b.value:
            raise LawFailure("boxed_answer_counts", f"bare {a.value}, boxed {b.value}", boxed)


@st.composite
def _math_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "math", "name": "math", "reference": "{{item.answer}}"}
    if draw(st.booleans()):
        spec["input"] = "{{sample.output_text}}"
    if draw(st.booleans()):
        spec["extract"] = draw(st.sampled_from(["auto", "none"]))
    return spec


add_profile(
    "math",
    KindProfile(
        reference_values=_math_references,
        laws=(_math_boxed_law,),
        specs=_math_specs,
        fixes={"multiple_boxed": "several \\boxed{} answers earn credit; the last box must be the only one read"},
        tolerated_errors=frozenset({"math_timeout"}),
    ),
)
