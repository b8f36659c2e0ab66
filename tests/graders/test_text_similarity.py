"""text_similarity: documented values, hand-computed metric values, options and spec errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graders_cases import check_case, load_cases

from graders import SpecError, compile_spec
from graders import _wordnet as wordnet_module

SPEC = {"type": "text_similarity", "name": "t", "input": "{{sample.output_text}}", "reference": "{{item.ref}}"}


@pytest.mark.parametrize("case", load_cases("test_text_similarity"))
def test_documented_semantics(case: dict[str, Any]) -> None:
    check_case(case)


def test_cosine_parses_but_does_not_compile() -> None:
    from graders import parse_spec

    spec = {**SPEC, "evaluation_metric": "cosine", "pass_threshold": 0.8}
    assert parse_spec(spec).to_json() == spec
    with pytest.raises(SpecError) as info:
        compile_spec(spec)
    assert info.value.path == ("evaluation_metric",)
    assert "embeddings model" in str(info.value) and "not supported offline" in str(info.value)


@pytest.mark.parametrize(
    ("metric", "option", "value"),
    [
        ("bleu", "rouge_measure", "recall"),
        ("rouge_1", "fuzzy_scorer", "ratio"),
        ("fuzzy_match", "bleu_smoothing", "method1"),
    ],
)
def test_option_for_another_metric_is_a_spec_error(metric: str, option: str, value: str) -> None:
    with pytest.raises(SpecError) as info:
        compile_spec({**SPEC, "evaluation_metric": metric, option: value})
    assert info.value.path == (option,)


def test_bleu_smoothing_gives_credit_without_4gram_overlap() -> None:
    args = ("the cat sat on a mat", {"ref": "the cat lay under the rug"})
    plain = compile_spec({**SPEC, "evaluation_metric": "bleu"}).grade(*args).value
    smoothed = compile_spec({**SPEC, "evaluation_metric": "bleu", "bleu_smoothing": "method1"}).grade(*args).value
    assert plain < 1e-100 < 0.01 < smoothed < 0.5


def test_meteor_without_wordnet_is_a_clear_compile_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import nltk.data

    monkeypatch.setattr(wordnet_module, "SYSTEM_DIRS", (str(tmp_path / "none"),))
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    monkeypatch.delenv(wordnet_module.ENV_VAR, raising=False)
    with pytest.raises(SpecError) as info:
        compile_spec({**SPEC, "evaluation_metric": "meteor"})
    message = str(info.value)
    assert info.value.path == ("evaluation_metric",)
    assert "apt-get install wordnet-base" in message and "nltk.downloader wordnet" in message


def test_meteor_reads_wordnet_from_wnsearchdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """$WNSEARCHDIR wins over the other places; a directory without WordNet there is an error."""
    monkeypatch.setenv(wordnet_module.ENV_VAR, str(tmp_path))
    with pytest.raises(SpecError, match="WordNet 3.0"):
        compile_spec({**SPEC, "evaluation_metric": "meteor"})
    assert wordnet_module.find_root() is None


def test_lexnames_table_matches_wordnet_numbering() -> None:
    lines = wordnet_module.LEXNAMES_TEXT.splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3" and lines[3] == "03\tnoun.Tops\t1" and lines[44] == "44\tadj.ppl\t3"


def test_rouge_l_refuses_a_quadratic_blow_up() -> None:
    grader = compile_spec({**SPEC, "evaluation_metric": "rouge_l"})
    text = " ".join(["word"] * 1_500)
    score = grader.grade(text, {"ref": text})
    assert score.error is not None and "token pairs" in score.error.message and score.value == 0.0
    assert grader.grade(text[:4_000], {"ref": text[:4_000]}).value == 1.0
