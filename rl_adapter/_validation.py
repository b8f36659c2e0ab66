"""Validation during training: completions for the validation prompts, graded and summarised.

``score_predictions`` is the one seam to evalkit: it summarises Scores into ``valid_reward_mean``,
``top@k`` (for graders whose details carry a ``rank``), per-component means and error counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graders import Grader
from rl_adapter._trl import completion_to_sample, component_means, to_rewards

# Validation prompts generated per forward batch: bounds memory on small GPUs and CPUs.
GENERATION_BATCH = 64
TOP_K = (1, 3, 5)


def score_predictions(grader: Grader, items: Sequence[Mapping[str, Any]], predictions: Sequence[Any]) -> dict[str, Any]:
    """Grades predictions against items and summarises them.

    Returns ``valid_reward_mean`` (the reward a trainer sees, as ``trl_reward`` maps it with
    ``error_value`` 0, averaged over samples that did not abstain),
    ``valid_top@k`` where scores carry a ``rank``, ``valid/<component>`` for ``multi`` parts,
    ``valid_errors`` (by kind) and ``valid_n``.
    """
    scores = grader.grade_batch([completion_to_sample(p) for p in predictions], items)
    counted = [s for s in scores if not s.abstained]
    rewards, errors, _ = to_rewards(scores, 0.0)
    values = [r for r in rewards if r is not None]
    out: dict[str, Any] = {
        "valid_reward_mean": sum(values) / len(values) if values else None,
        "valid_n": len(values),
        "valid_errors": dict(errors),
    }
    ranks = [s.details.get("rank") for s in counted if "rank" in s.details]
    if ranks and counted:
        for k in TOP_K:
            out[f"valid_top@{k}"] = sum(1 for r in ranks if isinstance(r, int) and r <= k) / len(counted)
    for key, mean in component_means(counted).items():
        out[f"valid/{key}"] = mean
    return out


def generate(
    model: Any, tokenizer: Any, prompts: Sequence[Any], *, max_new_tokens: int, greedy: bool, temperature: float
) -> list[str]:
    """Completions of ``prompts`` (strings, or message lists through the chat template)."""
    import torch

    was_training = model.training
    model.eval()
    out: list[str] = []
    try:
        with torch.no_grad():
            for start in range(0, len(prompts), GENERATION_BATCH):
                batch = list(prompts[start : start + GENERATION_BATCH])
                texts = [p if isinstance(p, str) else _chat(tokenizer, p) for p in batch]
                enc = tokenizer(texts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
                enc = {k: v.to(model.device) for k, v in enc.items()}
                options: dict[str, Any] = {"do_sample": not greedy}
                if not greedy:
                    options["temperature"] = temperature
                else:
                    options.update(temperature=None, top_p=None, top_k=None)
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
    return out


def _chat(tokenizer: Any, messages: Any) -> str:
    text: str = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text
