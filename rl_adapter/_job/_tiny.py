"""A tiny random-init causal LM and a word-level tokenizer built offline from the data's words.

For examples, tests and smoke runs where no model can be downloaded: every whitespace-separated
word of the prompts and reference fields becomes one token. Decoded completions put one word
per line, so a list-reading grader (``list_rank`` on ``output_text``) sees one entry per word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rl_adapter._job._config import TinyModel

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[EOS]")
_WORD = re.compile(r"\S+")


def words_of(values: Iterable[Any]) -> list[str]:
    """Every distinct word in the string values (recursing into lists and dicts), sorted."""
    seen: set[str] = set()
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            seen.update(_WORD.findall(value))
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
    return sorted(seen - set(SPECIAL_TOKENS))


def build_tokenizer(words: Iterable[str]) -> Any:
    """A fast word-level tokenizer (left padding, as TRL's generation needs)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *words])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    # WordPiece joins words with spaces; Replace then makes it one word per line.
    core.decoder = decoders.Sequence([decoders.WordPiece(prefix="##", cleanup=False), decoders.Replace(" ", "\n")])
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]", eos_token="[EOS]", padding_side="left"
    )


def build_tiny(words: Iterable[str], size: TinyModel, seed: int) -> tuple[Any, Any]:
    """A random-init Qwen2 of ``size`` over a tokenizer of ``words``; returns (model, tokenizer)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_tokenizer(words)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden_size,
        intermediate_size=size.intermediate_size,
        num_hidden_layers=size.num_layers,
        num_attention_heads=size.num_heads,
        num_key_value_heads=size.num_kv_heads,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model, tokenizer
