"""IFEval's verifiable instructions (Zhou et al. 2023, arXiv:2311.07911), one checker each.

Written from the paper's definitions (its Table 1) rather than taken from lm-eval: lm-eval
installs about thirty packages (scipy, scikit-learn, sacrebleu, aiohttp, evaluate) and its
IFEval module downloads nltk's sentence tokenizer at import, which an offline trainer cannot.
Words are ``\\w+`` runs (the tokenizer IFEval counts with); sentences end at ``.``, ``!`` or
``?`` followed by a space or the end; paragraphs are separated by the markdown divider ``***``.
The response language comes from ``langdetect`` (seeded, so it is deterministic); a text it
cannot classify (no letters) counts as following, as in IFEval.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graders._errors import MissingDependencyError

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
_DIVIDER = re.compile(r"\s?\*\*\*\s?")
_BULLET = re.compile(r"^\s*(?:\*[^*]|-).*$", re.MULTILINE)
_HIGHLIGHT = re.compile(r"\*[^\n*]*\*")
_BOLD = re.compile(r"\*\*[^\n*]*\*\*")
_TITLE = re.compile(r"<<[^\n]+>>")
_PLACEHOLDER = re.compile(r"\[.*?\]")
_FENCE = re.compile(r"^\s*```(?:json|JSON|Json)?\s*|\s*```\s*$")
RELATIONS = ("less than", "at least")


def _compare(count: int, relation: str, n: int) -> bool:
    return count < n if relation == "less than" else count >= n


def number_words(text: str, relation: str, num_words: int) -> bool:
    return _compare(len(_WORD.findall(text)), relation, num_words)


def count_sentences(text: str) -> int:
    parts = [p for p in _SENTENCE_END.split(text) if p.strip()]
    return len(parts)


def number_sentences(text: str, relation: str, num_sentences: int) -> bool:
    return _compare(count_sentences(text), relation, num_sentences)


def number_paragraphs(text: str, num_paragraphs: int) -> bool:
    """Exactly ``num_paragraphs`` paragraphs between ``***`` dividers, none of them empty."""
    parts = _DIVIDER.split(text)
    inner_empty = any(not p.strip() for p in parts[1:-1])
    return not inner_empty and sum(1 for p in parts if p.strip()) == num_paragraphs


def existence(text: str, keywords: list[str]) -> bool:
    return all(re.search(re.escape(k), text, re.IGNORECASE) for k in keywords)


def forbidden_words(text: str, forbidden_words: list[str]) -> bool:
    return not any(re.search(r"\b" + re.escape(w) + r"\b", text, re.IGNORECASE) for w in forbidden_words)


def frequency(text: str, keyword: str, frequency: int, relation: str) -> bool:
    return _compare(len(re.findall(re.escape(keyword), text, re.IGNORECASE)), relation, frequency)


def letter_frequency(text: str, letter: str, let_frequency: int, let_relation: str) -> bool:
    return _compare(text.lower().count(letter.lower()), let_relation, let_frequency)


def response_language(text: str, language: str) -> bool:
    try:
        from langdetect import DetectorFactory, detect  # type: ignore[import-untyped]
        from langdetect.lang_detect_exception import LangDetectException  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - a dependency of rftkit
        raise MissingDependencyError("langdetect", why="the instructions kind's response_language") from None
    DetectorFactory.seed = 0
    try:
        return bool(detect(text) == language)
    except LangDetectException:
        return True


def json_format(text: str) -> bool:
    try:
        json.loads(_FENCE.sub("", text.strip()))
    except ValueError:
        return False
    return True


def number_bullet_lists(text: str, num_bullets: int) -> bool:
    return len(_BULLET.findall(text)) == num_bullets


def number_highlighted_sections(text: str, num_highlights: int) -> bool:
    found = [h for h in _HIGHLIGHT.findall(text) if h.strip("*").strip()]
    found += [h for h in _BOLD.findall(text) if h.removeprefix("**").removesuffix("**").strip()]
    return len(found) >= num_highlights


def title(text: str) -> bool:
    return any(t.lstrip("<").rstrip(">").strip() for t in _TITLE.findall(text))


def postscript(text: str, postscript_marker: str) -> bool:
    marker = postscript_marker.strip().lower()
    if marker == "p.p.s":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif marker == "p.s.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + re.escape(marker) + r".*$"
    return re.search(pattern, text.lower(), re.MULTILINE) is not None


def number_placeholders(text: str, num_placeholders: int) -> bool:
    return len(_PLACEHOLDER.findall(text)) >= num_placeholders


def end_checker(text: str, end_phrase: str) -> bool:
    return text.strip().lower().endswith(end_phrase.strip().lower())


def start_checker(text: str, start_phrase: str) -> bool:
    return text.strip().lower().startswith(start_phrase.strip().lower())


def quotation(text: str) -> bool:
    text = text.strip()
    return len(text) > 1 and text[0] == '"' and text[-1] == '"'


def english_lowercase(text: str) -> bool:
    return text == text.lower()


def english_capital(text: str) -> bool:
    return text == text.upper()


def no_comma(text: str) -> bool:
    return "," not in text


@dataclass(frozen=True)
class Checker:
    """One instruction: its check and the arguments it takes, with their types."""

    check: Callable[..., bool]
    args: Mapping[str, type]


_INT, _STR, _LIST = int, str, list
CHECKERS: dict[str, Checker] = {
    "length_constraints:number_words": Checker(number_words, {"relation": _STR, "num_words": _INT}),
    "length_constraints:number_sentences": Checker(number_sentences, {"relation": _STR, "num_sentences": _INT}),
    "length_constraints:number_paragraphs": Checker(number_paragraphs, {"num_paragraphs": _INT}),
    "keywords:existence": Checker(existence, {"keywords": _LIST}),
    "keywords:forbidden_words": Checker(forbidden_words, {"forbidden_words": _LIST}),
    "keywords:frequency": Checker(frequency, {"keyword": _STR, "frequency": _INT, "relation": _STR}),
    "keywords:letter_frequency": Checker(
        letter_frequency, {"letter": _STR, "let_frequency": _INT, "let_relation": _STR}
    ),
    "language:response_language": Checker(response_language, {"language": _STR}),
    "detectable_format:json_format": Checker(json_format, {}),
    "detectable_format:number_bullet_lists": Checker(number_bullet_lists, {"num_bullets": _INT}),
    "detectable_format:number_highlighted_sections": Checker(number_highlighted_sections, {"num_highlights": _INT}),
    "detectable_format:title": Checker(title, {}),
    "detectable_content:postscript": Checker(postscript, {"postscript_marker": _STR}),
    "detectable_content:number_placeholders": Checker(number_placeholders, {"num_placeholders": _INT}),
    "startend:end_checker": Checker(end_checker, {"end_phrase": _STR}),
    "startend:start_checker": Checker(start_checker, {"start_phrase": _STR}),
    "startend:quotation": Checker(quotation, {}),
    "change_case:english_lowercase": Checker(english_lowercase, {}),
    "change_case:english_capital": Checker(english_capital, {}),
    "punctuation:no_comma": Checker(no_comma, {}),
}


def coerce_args(instruction: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of ``instruction`` checked and converted (numbers given as text included).

    Raises:
        ValueError: an unknown instruction, a missing, unknown or ill-typed argument, or a
            relation other than ``less than`` / ``at least``.
    """
    checker = CHECKERS.get(instruction)
    if checker is None:
        raise ValueError(f"unknown instruction {instruction!r}")
    extra = sorted(set(args) - set(checker.args))
    if extra:
        raise ValueError(f"{instruction} takes no argument {extra[0]!r} (takes: {', '.join(checker.args) or 'none'})")
    out: dict[str, Any] = {}
    for name, kind in checker.args.items():
        if args.get(name) is None:
            raise ValueError(f"{instruction} needs the argument {name!r}")
        value = args[name]
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise ValueError(f"{instruction}.{name} must be an integer, not {value!r}")
            try:
                value = int(value)
            except ValueError:
                raise ValueError(f"{instruction}.{name} must be an integer, not {value!r}") from None
        elif kind is list:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{instruction}.{name} must be a list of strings")
        elif not isinstance(value, str):
            raise ValueError(f"{instruction}.{name} must be a string, not {value!r}")
        if name.endswith("relation") and value not in RELATIONS:
            raise ValueError(f"{instruction}.{name} must be 'less than' or 'at least', not {value!r}")
        out[name] = value
    return out


def loose_variants(text: str) -> list[str]:
    """IFEval's loose responses: the text without its first, last or both lines, each also without ``*``."""
    lines = text.split("\n")
    cut = ["\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    variants = [text, *cut]
    return variants + [v.replace("*", "") for v in variants]
