"""Validation during training: completions for the validation prompts, graded and summarised.

``score_predictions`` is the seam to evalkit: ``evalkit.evaluate`` grades the completions and
computes the metrics (``mean``, ``top@k``, ``pass@k``) over ``eval_samples`` completions per
validation row, summarised as ``valid_reward_mean``, ``valid_top@k``, per-component means and error
counts, and writes an evalkit run per validation step.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit import evaluate
from graders import ErrorKind, Grader
from rl_adapter._reward import component_means
from rl_adapter._trl import completion_to_sample

# Validation prompts generated per forward batch: bounds memory on small GPUs and CPUs.
GENERATION_BATCH = 64
TOP_K = (1, 3, 5)


def score_predictions(
    grader: Grader,
    items: Sequence[Mapping[str, Any]],
    predictions: Sequence[Sequence[Any]],
    *,
    out: Path | None = None,
) -> dict[str, Any]:
    """Grades each item's predictions with ``evalkit.evaluate`` and summarises them.

    Args:
        grader: The job's grader.
        items: The validation items.
        predictions: For each item, its samples (``eval_samples`` completions).
        out: An evalkit run directory to write (so ``rftkit compare`` works between steps).

    Returns ``valid_reward_mean`` (evalkit's ``mean``: per item, the mean reward of its samples,
    as a trainer sees it with ``error_value`` 0; abstentions left out), ``valid_top@k`` where
    scores carry a ``rank``, ``valid_pass@k`` with several samples per item, ``valid/<component>``
    for ``multi`` parts, ``valid_errors`` (by kind), ``valid_parse_error_mean`` (the share of samples
    the model's output could not be parsed for), ``valid_n``, ``valid_samples``, and
    ``valid_usage`` (the judges' tokens per model, ``Usage.to_dict()``) when a judge was called.
    """
    rows, ids = _with_ids(items)
    preds: list[dict[str, Any]] = []
    for i, samples in zip(ids, predictions, strict=True):
        for prediction in samples:
            sample = completion_to_sample(prediction)
            pred: dict[str, Any] = {"id": i, "output_text": sample.output_text}
            if sample.output_tools:
                pred["output_tools"] = sample.output_tools
            preds.append(pred)
    result = evaluate(grader, rows, preds, k=TOP_K, out=out)
    metrics = result.metrics
    scores = [score for item in result.items for score in item.scores]
    mean = metrics.get("mean")
    summary: dict[str, Any] = {
        "valid_reward_mean": mean if isinstance(mean, float) and math.isfinite(mean) else None,
        "valid_n": metrics.get("n", 0),
        "valid_samples": len(scores),
        "valid_errors": dict(Counter(s.error.kind for s in scores if s.error is not None and not s.abstained)),
    }
    parse_errors = summary["valid_errors"].get(ErrorKind.SAMPLE_PARSE_ERROR, 0)
    summary["valid_parse_error_mean"] = parse_errors / len(scores) if scores else 0.0
    for key in [f"top@{k}" for k in TOP_K] + [f"pass@{k}" for k in TOP_K]:
        value = metrics.get(key)
        if isinstance(value, float) and math.isfinite(value):
            summary[f"valid_{key}"] = value
    for key, value in component_means([s for s in scores if not s.abstained]).items():
        summary[f"valid/{key}"] = value
    if result.config.get("usage"):
        summary["valid_usage"] = result.config["usage"]
    return summary


def _with_ids(items: Sequence[Mapping[str, Any]]) -> tuple[Sequence[Mapping[str, Any]], list[Any]]:
    """Items and the ids evalkit matches predictions by: their own unique ``id``s, else positions."""
    own = [item.get("id") for item in items]
    if all(type(i) in (str, int) for i in own) and len({str(i) for i in own}) == len(own):
        return items, own
    if all(i is None for i in own):
        return items, list(range(len(items)))
    # Some rows have an id and some do not, ids repeat, or are of a type evalkit does not take as an
    # id (a float, an object): number them for this evaluation.
    return [{**item, "id": str(n)} for n, item in enumerate(items)], [str(n) for n in range(len(items))]


def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Any],
    *,
    max_new_tokens: int,
    greedy: bool,
    temperature: float,
    samples: int = 1,
) -> list[list[str]]:
    """``samples`` completions of each prompt (a string, or a message list through the chat template)."""
    import torch

    was_training = model.training
    model.eval()
    out: list[str] = []
    # Greedy samples are all the same: one generation per prompt, repeated.
    repeated = [p for p in prompts for _ in range(1 if greedy else samples)]
    try:
        with torch.no_grad():
            for start in range(0, len(repeated), GENERATION_BATCH):
                batch = list(repeated[start : start + GENERATION_BATCH])
                texts = [p if isinstance(p, str) else _chat(tokenizer, p) for p in batch]
                enc = tokenizer(texts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
                enc = {k: v.to(model.device) for k, v in enc.items()}
                options = sampling_options(greedy=greedy, temperature=temperature)
                generated = model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                    **options,
                )
                new = generated[:, enc["input_ids"].shape[1] :]
                out.extend(tokenizer.batch_decode(new, skip_special_tokens=True))
    finally:
        if was_training:
            model.train()
    if greedy:
        return [[text] * samples for text in out]
    return [out[i : i + samples] for i in range(0, len(out), samples)]


def sampling_options(*, greedy: bool, temperature: float, top_p: float | None = None) -> dict[str, Any]:
    """``generate`` keywords: greedy clears the model's own sampling defaults, which would warn."""
    if greedy:
        return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    options: dict[str, Any] = {"do_sample": True, "temperature": temperature}
    if top_p is not None:
        options["top_p"] = top_p
    return options


def _chat(tokenizer: Any, messages: Any) -> str:
    text: str = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text
