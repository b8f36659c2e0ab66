"""``text_similarity``: fuzzy, BLEU, GLEU, METEOR and ROUGE similarity, as in the hosted API.

The metrics come from the libraries the hosted Python sandbox ships (rapidfuzz, nltk,
rouge-score), imported when a spec using them is compiled, so importing ``graders`` stays cheap.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import ConfigDict, Field

from graders._errors import ErrorKind, SpecError
from graders._grader import Grader, TemplateGrader
from graders._registry import register
from graders._spec import BaseSpec
from graders._types import Sample, Score, clip

Metric = Literal[
    "fuzzy_match", "bleu", "gleu", "meteor", "cosine",
    "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
]  # fmt: skip
FuzzyScorer = Literal["WRatio", "QRatio", "ratio", "partial_ratio", "token_sort_ratio", "token_set_ratio"]
BleuSmoothing = Literal["none", "method1", "method2", "method3", "method4", "method5", "method6", "method7"]

# Model output is adversarial: the metrics are pure Python (nltk, rouge-score), so bound their work.
# Longer texts are not scored (a 10 MB output would take minutes of BLEU n-gram counting).
MAX_METRIC_CHARS = 50_000
# ROUGE-L fills a pure-Python LCS table of output x reference tokens; past this many cells (about
# a second) the sample is not scored. METEOR's alignment is O(n*m) too but 20x cheaper per pair.
MAX_TOKEN_PAIRS = 1_000_000
_PAIRWISE = ("rouge_l",)

_ROUGE_KEYS = {f"rouge_{n}": f"rouge{n}" for n in range(1, 6)} | {"rouge_l": "rougeL"}
# Which rftkit-only option applies to which metrics (an option set for another metric is a spec error).
_OPTION_METRICS = {
    "fuzzy_scorer": ("fuzzy_match",),
    "fuzzy_preprocess": ("fuzzy_match",),
    "rouge_measure": tuple(_ROUGE_KEYS),
    "bleu_smoothing": ("bleu",),
}


# A minimal spec of this kind: shown in the JSON Schema and used by the round-trip tests.
EXAMPLE: dict[str, Any] = {
    "type": "text_similarity",
    "name": "summary",
    "input": "{{sample.output_text}}",
    "reference": "{{item.summary}}",
    "evaluation_metric": "rouge_l",
    "pass_threshold": 0.5,
}


class TextSimilaritySpec(BaseSpec):
    """Scores how similar ``input`` is to ``reference`` (both templates), from 0 to 1.

    Metrics (the hosted API names them but documents little; rftkit's choices, each with an
    rftkit-only option that selects the alternative, unset by default so hosted specs round-trip):

    * ``fuzzy_match``: ``rapidfuzz.fuzz.WRatio(input, reference, processor=utils.default_process) / 100``,
      the scorer of the hosted docs' own Python example (``fuzzy_scorer`` picks another rapidfuzz
      scorer, ``fuzzy_preprocess: false`` drops the lower-casing/punctuation stripping);
    * ``bleu``: ``nltk.translate.bleu_score.sentence_bleu`` on whitespace tokens, 4-grams,
      unsmoothed (nltk's default: practically 0, about 1e-155, when the texts share no 4-gram;
      ``bleu_smoothing`` picks one of nltk's ``SmoothingFunction`` methods);
    * ``gleu``: ``nltk.translate.gleu_score.sentence_gleu`` (Google-BLEU) on whitespace tokens;
    * ``meteor``: ``nltk.translate.meteor_score.meteor_score`` on whitespace tokens (nltk lower-cases,
      stems and matches WordNet synonyms); needs WordNet 3.0 installed (see ``graders._wordnet``);
    * ``rouge_1`` .. ``rouge_5``, ``rouge_l``: ``rouge_score.rouge_scorer.RougeScorer`` (rouge1..rouge5,
      rougeL; its tokenizer lower-cases and keeps only letters and digits), the F-measure
      (``rouge_measure`` picks precision or recall);
    * ``cosine`` parses (it is a hosted evals metric) but does not compile: it needs an embeddings
      model, which rftkit does not call offline.

    ``pass_threshold`` sets ``passed`` (value >= threshold); the value itself stays continuous.
    Texts over ``MAX_METRIC_CHARS`` (50,000 characters), or over ``MAX_TOKEN_PAIRS`` (1,000,000)
    output x reference tokens for ``rouge_l``, are not scored (``input_too_long``).
    """

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    type: Literal["text_similarity"] = "text_similarity"
    input: str
    reference: str
    evaluation_metric: Metric
    pass_threshold: float | None = None
    fuzzy_scorer: FuzzyScorer = Field(default="WRatio", description="rftkit only: the rapidfuzz scorer.")
    fuzzy_preprocess: bool = Field(default=True, description="rftkit only: apply rapidfuzz utils.default_process.")
    rouge_measure: Literal["fmeasure", "precision", "recall"] = Field(
        default="fmeasure", description="rftkit only: which ROUGE figure is the value."
    )
    bleu_smoothing: BleuSmoothing = Field(default="none", description="rftkit only: nltk BLEU smoothing method.")


class TextSimilarityGrader(TemplateGrader[TextSimilaritySpec]):
    def __init__(self, spec: TextSimilaritySpec) -> None:
        super().__init__(spec, spec.input, spec.reference)
        self.metric_name = spec.evaluation_metric
        self.metric = _metric(spec)
        self.threshold = spec.pass_threshold
        self.pairwise = spec.evaluation_metric in _PAIRWISE

    def _grade(self, sample: Sample, item: Mapping[str, Any]) -> Score:
        got = self.input.render(sample, item)
        ref = self.reference.render(sample, item)
        too_long = _too_long(got, ref, self.pairwise)
        if too_long:
            return Score.failure(ErrorKind.INPUT_TOO_LONG, too_long, metric=self.metric_name)
        value = float(self.metric(got, ref))
        passed = None if self.threshold is None else value >= self.threshold
        return Score(value, passed, {"metric": self.metric_name, "input": clip(got), "reference": clip(ref)})


def _too_long(got: str, ref: str, pairwise: bool) -> str:
    for what, text in (("input", got), ("reference", ref)):
        if len(text) > MAX_METRIC_CHARS:
            return f"{what} is {len(text)} characters, over the {MAX_METRIC_CHARS}-character limit of text_similarity"
    if pairwise and len(got) * len(ref) > MAX_TOKEN_PAIRS:  # cheap pre-check on characters before counting tokens
        pairs = len(got.split()) * len(ref.split())
        if pairs > MAX_TOKEN_PAIRS:
            return f"input x reference is {pairs} token pairs, over the {MAX_TOKEN_PAIRS} limit of this metric"
    return ""


def _metric(spec: TextSimilaritySpec) -> Callable[[str, str], float]:
    metric = spec.evaluation_metric
    for option, metrics in _OPTION_METRICS.items():
        if option in spec.model_fields_set and metric not in metrics:
            raise SpecError(f"{option!r} applies only to {', '.join(metrics)}, not to {metric!r}", (option,))
    if metric == "cosine":
        raise SpecError(
            "'cosine' needs an embeddings model (text-embedding-3-large on the hosted API) and is not "
            "supported offline",
            ("evaluation_metric",),
            "; use fuzzy_match, bleu, gleu, meteor or rouge_*, or a score_model judge",
        )
    if metric == "fuzzy_match":
        return _fuzzy(spec.fuzzy_scorer, spec.fuzzy_preprocess)
    if metric == "bleu":
        return _bleu(spec.bleu_smoothing)
    if metric == "gleu":
        return _gleu()
    if metric == "meteor":
        return _meteor()
    return _rouge(_ROUGE_KEYS[metric], spec.rouge_measure)


def _fuzzy(scorer_name: str, preprocess: bool) -> Callable[[str, str], float]:
    from rapidfuzz import fuzz, utils

    scorer = getattr(fuzz, scorer_name)
    processor = utils.default_process if preprocess else None
    return lambda got, ref: scorer(got, ref, processor=processor) / 100.0


def _bleu(smoothing: str) -> Callable[[str, str], float]:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    smooth = None if smoothing == "none" else getattr(SmoothingFunction(), smoothing)

    def bleu(got: str, ref: str) -> float:
        hyp = got.split()
        if not hyp:
            return 0.0
        # nltk warns (UserWarning) when an n-gram order has no overlap; that is a score of 0, not a problem.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(sentence_bleu([ref.split()], hyp, smoothing_function=smooth))

    return bleu


def _gleu() -> Callable[[str, str], float]:
    from nltk.translate.gleu_score import sentence_gleu

    def gleu(got: str, ref: str) -> float:
        hyp = got.split()
        return float(sentence_gleu([ref.split()], hyp)) if hyp else 0.0

    return gleu


def _meteor() -> Callable[[str, str], float]:
    from nltk.stem.porter import PorterStemmer
    from nltk.translate.meteor_score import meteor_score

    from graders._wordnet import load_wordnet

    try:
        wordnet = load_wordnet()
    except SpecError as exc:
        raise exc.within("evaluation_metric") from None
    stemmer = PorterStemmer()

    def meteor(got: str, ref: str) -> float:
        hyp = got.split()
        if not hyp:
            return 0.0
        return float(meteor_score([ref.split()], hyp, stemmer=stemmer, wordnet=wordnet))

    return meteor


def _rouge(key: str, measure: str) -> Callable[[str, str], float]:
    from rouge_score.rouge_scorer import RougeScorer

    scorer = RougeScorer([key])
    return lambda got, ref: float(getattr(scorer.score(ref, got)[key], measure))


@register(TextSimilaritySpec, hosted=True)
def compile_text_similarity(spec: TextSimilaritySpec) -> Grader:
    return TextSimilarityGrader(spec)
