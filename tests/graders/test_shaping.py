"""format, length and repetition: the shaping kinds, alone and inside multi."""

from __future__ import annotations

from pathlib import Path

import pytest

from graders import SpecError, compile_spec


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("<think>2 + 2 is 4</think>\nThe answer is 4.", 1.0),
        ("  <think>\nreason\n</think>42", 1.0),
        ("<think></think> 42", 0.0),  # the format with nothing in it
        ("<think>   </think> 42", 0.0),
        ("<think>reason</think>", 0.0),  # no answer
        ("<think>reason</think>   ", 0.0),
        ("Preamble <think>reason</think> 42", 0.0),
        ("<think>a</think> 42 <think>b</think> 43", 0.0),
        ("<think>a <think> b</think> 42", 0.0),
        ("<think>never closed 42", 0.0),
        ("", 0.0),
    ],
)
def test_think_then_answer(text: str, value: float) -> None:
    assert compile_spec({"type": "format", "tags": ["think"]}).grade(text).value == value


def test_blocks_with_nothing_after_and_regex() -> None:
    blocks = compile_spec({"type": "format", "tags": ["think", "answer"], "then": "nothing"})
    assert blocks.grade("<think>a</think>\n<answer>4</answer>\n").value == 1.0
    assert blocks.grade("<think>a</think><answer>4</answer> and more").value == 0.0
    assert blocks.grade("<answer>4</answer><think>a</think>").value == 0.0
    full = compile_spec({"type": "format", "pattern": r"Answer: \d+"})
    search = compile_spec({"type": "format", "pattern": r"Answer: \d+", "match": "search"})
    assert (full.grade("Answer: 12").value, full.grade("So. Answer: 12").value) == (1.0, 0.0)
    assert search.grade("So. Answer: 12").value == 1.0
    with pytest.raises(SpecError, match="pattern"):
        compile_spec({"type": "format", "pattern": "("})
    with pytest.raises(SpecError, match="exactly one"):
        compile_spec({"type": "format"})
    with pytest.raises(SpecError, match=r"tags\[0\]"):
        compile_spec({"type": "format", "tags": ["<think>"]})


def test_a_long_hostile_output_is_scanned_in_linear_time() -> None:
    text = "<think>" + "x " * 40_000  # never closed; a backtracking regex would take minutes
    assert compile_spec({"type": "format", "tags": ["think"]}).grade(text).value == 0.0


@pytest.mark.parametrize(("length", "value"), [(0, 0.0), (80, 0.0), (90, -0.5), (95, -0.75), (100, -1.0), (500, -1.0)])
def test_dapo_overlong_punishment(length: int, value: float) -> None:
    grader = compile_spec({"type": "length", "max_len": 100, "buffer": 20})
    score = grader.grade("y" * length)
    assert score.value == pytest.approx(value) and score.details == {"length": length, "unit": "chars"}


def test_target_range_and_spec_checks() -> None:
    grader = compile_spec({"type": "length", "mode": "range", "min_len": 3, "max_len": 5})
    assert [grader.grade("z" * n).value for n in (2, 3, 5, 6)] == [0.0, 1.0, 1.0, 0.0]
    for bad in (
        {"max_len": 10},
        {"max_len": 10, "buffer": 11},
        {"mode": "range", "max_len": 3, "min_len": 4},
        {"mode": "range", "max_len": 3, "buffer": 1},
    ):
        with pytest.raises(SpecError):
            compile_spec({"type": "length", **bad})


def test_length_in_tokens_of_a_local_tokenizer(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "the": 1, "cat": 2, "sat": 3}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(str(tmp_path))
    grader = compile_spec({"type": "length", "mode": "range", "max_len": 3, "tokenizer": str(tmp_path)})
    assert grader.grade("the cat sat").details == {"length": 3, "unit": "tokens"}
    assert grader.grade("the cat sat").value == 1.0  # 11 characters, but 3 tokens
    assert grader.grade("the cat sat down").value == 0.0


def test_repetition_penalty() -> None:
    grader = compile_spec({"type": "repetition", "n": 2})
    assert grader.grade("every word here is new").value == 0.0
    assert grader.grade("one").value == 0.0
    loop = grader.grade("go on go on go on go on")  # 7 bigrams, 2 distinct
    assert loop.value == pytest.approx(-5 / 7) and loop.details["repeated_share"] == pytest.approx(5 / 7)
    half = compile_spec({"type": "repetition", "n": 2, "max_penalty": -0.5, "unit": "chars"})
    assert half.grade("abab").value == pytest.approx(-0.5 * (1 - 2 / 3))


def test_shaping_inside_multi() -> None:
    multi = compile_spec(
        {
            "type": "multi",
            "name": "shaped",
            "calculate_output": "correct + fmt + 0.5 * long",
            "graders": {
                "correct": {
                    "type": "string_check",
                    "name": "c",
                    "operation": "like",
                    "input": "{{sample.output_text}}",
                    "reference": "{{item.answer}}",
                },
                "fmt": {"type": "format", "name": "f", "tags": ["think"]},
                "long": {"type": "length", "name": "l", "max_len": 40, "buffer": 10},
            },
        }
    )
    assert multi.grade("<think>ok</think> 4", {"answer": "4"}).value == 2.0
    assert multi.grade("<think>" + "hm " * 20 + "</think> 4", {"answer": "4"}).value == pytest.approx(1.5)


def test_the_empty_format_probe_earns_nothing() -> None:
    from graders.testing import run_probes

    grader = compile_spec({"type": "format", "tags": ["think", "answer"], "then": "nothing"})
    result = {r.probe: r for r in run_probes(grader, [{}])}["empty_format"]
    assert result.items == 1 and result.earned == 0.0 and not result.flagged
