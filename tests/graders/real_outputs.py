"""Real-output-style pairs built from the shipped data, with the verdict known by construction.

Models do not answer the way rewrites of a reference look: they put the answer in math
delimiters after a cue, end on a sentence, think first, wrap units in ``\\textbf``, label a tuple,
box each element of a set, hedge. ``math500_pairs`` and ``gsm8k_pairs`` write the reference
answers of MATH-500 and GSM8K in those forms. A pair built from the item's own answer is right
(True); one built from another item's answer, or one that commits to the right answer *and* a
wrong one, is wrong (False). Each pair is ``(category, output, reference, expected)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from math_rewrites import other_answer

ROOT = Path(__file__).resolve().parents[2]
MATH500 = ROOT / "examples" / "data" / "math500" / "test.jsonl"
GSM8K = ROOT / "examples" / "data" / "gsm8k" / "test.jsonl"

Pair = tuple[str, str, str, bool]

_INTEGER = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_PMATRIX = re.compile(r"^\\begin\{pmatrix\}(.*)\\end\{pmatrix\}$", re.DOTALL)
# an interval that cannot be a tuple: a square bracket or an infinity in it
_INTERVAL = re.compile(r"^(?:\\left)?([\[(])\s*([^,]+?),\s*([^,]+?)\s*(?:\\right)?([\])])$")
_THOUSANDS = re.compile(r"^(?:\\\$)?\d{1,3}(?:,(?:\\!)? ?\d{3})+$")  # 58,500 is one number, not a set
_TUPLE2 = re.compile(r"^\((-?[\w\\{}]+), *(-?[\w\\{}]+)\)$")
_THINK = "<think>\nLet me try a first guess: \\boxed{{{0}}}. No, that is not right; let me redo it.\n</think>\n"


def _top_commas(s: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(s[start:i].strip())
            start = i + 1
    parts.append(s[start:].strip())
    return parts


def _forms(answer: str) -> Iterator[tuple[str, str]]:
    """(category, output) written around ``answer`` the way models write a final answer."""
    yield "cue_inline_math", f"So we are done.\n\nAnswer $ {answer} $"
    yield "cue_display_math", f"Putting it together.\n\nFinal Answer\n\\[\n{answer}\n\\]"
    yield "cue_paren_math", f"Therefore, the answer is \\( {answer} \\)."
    yield "cue_double_dollar", f"The final answer is $$ {answer} $$"
    yield "minerva_sentence", f"Final Answer: The final answer is ${answer}$. I hope it is correct."
    yield "think_trace", _THINK.format("0" if answer.strip() != "0" else "1") + f"The answer is $\\boxed{{{answer}}}$."


def _special_forms(answer: str) -> Iterator[tuple[str, str]]:
    """Forms that only make sense for some answers (numbers, sets, tuples, matrices, intervals)."""
    if _NUMBER.match(answer):
        yield "sentence_final", f"Final Answer: The largest possible value is {answer}."
        yield "unit_textbf", f"The length is $\\boxed{{{answer}\\textbf{{ meters}}}}$."
        yield "unit_textnormal", f"She drives $\\boxed{{{answer} \\textnormal{{ miles}}}}$."
        yield "unit_mbox", f"So the area is $\\boxed{{{answer}\\mbox{{ cm}}^2}}$."
    if _INTEGER.match(answer) and abs(int(answer)) >= 4 and int(answer) % 2 == 0:
        n = int(answer)
        yield "unreduced_product", f"The answer is $\\boxed{{2 \\cdot {n // 2}}}$."
        yield "unreduced_fraction", f"So the answer is ${2 * n}/2$."
    parts = _top_commas(answer)
    if len(parts) > 1 and not answer.startswith(("(", "[", "\\left", "\\{")) and not _THOUSANDS.match(answer):
        yield "several_boxes", "The solutions are " + ", ".join(f"$\\boxed{{{p}}}$" for p in parts) + "."
    tuple2 = _TUPLE2.match(answer.replace("\\left", "").replace("\\right", "").replace(" ", ""))
    if tuple2 is not None:
        yield "labelled_tuple", f"Hence $\\boxed{{(a, b) = {answer}}}$."
    matrix = _PMATRIX.match(answer.strip())
    if matrix is not None:
        body = matrix.group(1)
        yield "matrix_bmatrix", f"$\\boxed{{\\begin{{bmatrix}}{body}\\end{{bmatrix}}}}$"
        width = max(len(row.split("&")) for row in body.split("\\\\"))
        yield "matrix_array", f"$$\\boxed{{\\left[\\begin{{array}}{{{'c' * width}}}{body}\\end{{array}}\\right]}}$$"
        doubled = " \\\\ ".join(
            " & ".join(f"2\\left({cell.strip()}\\right)" for cell in row.split("&")) for row in body.split("\\\\")
        )
        yield "matrix_scalar", f"$\\boxed{{\\frac{{1}}{{2}}\\begin{{pmatrix}}{doubled}\\end{{pmatrix}}}}$"
    interval = _INTERVAL.match(answer.strip())
    if interval is not None and ("[" in answer or "]" in answer or "\\infty" in answer):
        opening, lo, hi, closing = interval.groups()
        low = "\\le" if opening == "[" else "<"
        high = "\\le" if closing == "]" else "<"
        if "\\infty" in hi and "\\infty" not in lo:
            written = "x " + ("\\ge" if opening == "[" else ">") + f" {lo}"
        elif "\\infty" in lo and "\\infty" not in hi:
            written = f"x {high} {hi}"
        else:
            written = f"{lo} {low} x {high} {hi}"
        yield "inequality_for_interval", f"So the answer is $\\boxed{{{written}}}$."


def _hedges(right: str, wrong: str) -> Iterator[tuple[str, str]]:
    """Outputs that commit to the right answer and a wrong one, in both orders."""
    for a, b in ((right, wrong), (wrong, right)):
        yield "hedge_or", f"The answer is ${a}$ or ${b}$."
        yield "hedge_two_boxes", f"So $\\boxed{{{a}}}$. Or maybe $\\boxed{{{b}}}$."


def math500_pairs() -> list[Pair]:
    """Pairs on the 500 MATH-500 answers (and their worked solutions as references)."""
    rows = [json.loads(line) for line in MATH500.read_text().splitlines()]
    answers = [row["answer"] for row in rows]
    pairs: list[Pair] = []
    for i, row in enumerate(rows):
        answer, other = answers[i], other_answer(answers, i)
        for category, text in [*_forms(answer), *_special_forms(answer)]:
            pairs.append((category, text, answer, True))
        for category, text in _forms(other):
            pairs.append((f"{category}_wrong", text, answer, False))
        if _top_commas(answer) == [answer] and _top_commas(other) == [other]:
            pairs += [(category, text, answer, False) for category, text in _hedges(answer, other)]
        # the gold is the whole worked solution: its own final answer is read out of it
        pairs.append(("solution_reference", f"The answer is $\\boxed{{{answer}}}$.", row["solution"], True))
        pairs.append(("solution_reference_wrong", f"The answer is $\\boxed{{{other}}}$.", row["solution"], False))
    return pairs


def gsm8k_pairs(limit: int = 400) -> list[Pair]:
    """Pairs on the first ``limit`` GSM8K test rows (the reference is the ``#### N`` solution)."""
    rows = [json.loads(line) for line in GSM8K.read_text().splitlines()[:limit]]
    pairs: list[Pair] = []
    for i, row in enumerate(rows):
        reference = row["answer"]
        n = int(reference.rsplit("####", 1)[1].strip().replace(",", ""))
        m = n + 1 + i % 7 if n >= 0 else n - 3  # a wrong answer
        for value, expected in ((n, True), (m, False)):
            suffix = "" if expected else "_wrong"
            for category, text in (
                ("answer_is", f"Adding it up, the answer is {value}."),
                ("marker", f"Step by step.\n#### {value}"),
                ("boxed", f"So she has $\\boxed{{{value}}}$ left."),
                ("cue_math", f"Answer: ${value}$"),
                ("dollars", f"She makes ${value:,}.00 every day.\n#### ${value:,}.00"),
                ("think_trace", f"<think>maybe {value + 5}, or {value - 5}</think>\nThe answer is {value}."),
                ("unreduced", f"The answer is {2 * value}/2."),
                ("expression_then_value", f"The answer is {value} * 1 = {value}."),
            ):
                pairs.append((category + suffix, text, reference, expected))
        for a, b in ((n, m), (m, n)):
            for category, text in (
                ("hedge_or", f"The answer is {a} or {b}."),
                ("hedge_either", f"It is either {a} or {b}."),
                ("hedge_or_maybe", f"Answer: {a}, or maybe {b}"),
                ("hedge_two_boxes", f"\\boxed{{{a}}} \\boxed{{{b}}}"),
                ("hedge_two_markers", f"#### {a}\nLet me check.\n#### {b}"),
                ("hedge_candidate_list", f"The answer is {a}, {b}."),
            ):
                pairs.append((category, text, reference, False))
    return pairs
