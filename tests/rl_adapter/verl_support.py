"""Building blocks for driving verl's own reward code on CPU: its Hydra config, a tokenizer and a batch.

No model is needed: verl's reward loop decodes response token ids with the tokenizer named by
``actor_rollout_ref.model.path``, so a word-level tokenizer saved to a folder stands in for it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PAD, EOS, UNK = "[PAD]", "[EOS]", "[UNK]"


def verl_config_dir() -> Path:
    import verl

    return Path(verl.__file__).parent / "trainer" / "config"


def compose(overrides: Sequence[str]) -> Any:
    """verl's ``ppo_trainer`` config with ``overrides``, as ``python -m verl.trainer.main_ppo`` builds it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(verl_config_dir()), version_base=None):
        return hydra_compose("ppo_trainer", overrides=list(overrides))


def validate(config: Any) -> None:
    """verl's own start-up check of a config (``main_ppo`` runs it before anything else)."""
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))


def save_tokenizer(texts: Sequence[str], directory: Path, *, spaced: bool = True) -> str:
    """A word-level tokenizer over the words of ``texts``, saved; decoding joins words with spaces or not."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for text in texts for w in text.split()} - {PAD, EOS, UNK})
    core = Tokenizer(models.WordLevel({t: i for i, t in enumerate([PAD, UNK, EOS, *words])}, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    # spaced: verl decodes the response alone; unspaced: OpenRLHF decodes prompt + response as
    # one string, which must start with the prompt exactly (as a real chat template's does).
    # (A prefix no word has: WordPiece would glue a "####" word onto the one before it.)
    core.decoder = decoders.WordPiece(prefix="\x00", cleanup=False) if spaced else decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, unk_token=UNK, eos_token=EOS)
    tokenizer.save_pretrained(directory)
    return str(directory)


def save_model_config(directory: Path) -> str:
    """A model folder holding only a tiny config: verl reads one when it builds a critic's config.

    Apart from the tokenizer's folder: transformers would load a Qwen2 tokenizer beside it.
    """
    from transformers import Qwen2Config

    Qwen2Config(vocab_size=64, hidden_size=16, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
                num_key_value_heads=1, architectures=["Qwen2ForCausalLM"]).save_pretrained(directory)
    return str(directory)


def verl_batch(tokenizer: Any, rows: Sequence[Mapping[str, Any]], responses: Sequence[str]) -> Any:
    """A ``DataProto`` as verl's rollout hands it to the reward loop: prompt, response ids and the row columns."""
    import numpy as np
    import torch
    from verl import DataProto

    def ids(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    prompts = [ids(str(row.get("prompt_text", "q"))) for row in rows]
    answers = [ids(text) + [tokenizer.eos_token_id] for text in responses]
    p_len, r_len = max(map(len, prompts)), max(map(len, answers))
    pad = tokenizer.pad_token_id
    prompt_ids = torch.tensor([[pad] * (p_len - len(p)) + p for p in prompts])
    response_ids = torch.tensor([a + [pad] * (r_len - len(a)) for a in answers])
    mask = torch.tensor([[0] * (p_len - len(p)) + [1] * len(p) + [1] * len(a) + [0] * (r_len - len(a))
                         for p, a in zip(prompts, answers, strict=True)])

    def column(key: str, default: Any) -> Any:
        values = np.empty(len(rows), dtype=object)
        values[:] = [row.get(key, default) for row in rows]
        return values

    return DataProto.from_dict(
        tensors={"prompts": prompt_ids, "responses": response_ids, "attention_mask": mask,
                 "input_ids": torch.cat([prompt_ids, response_ids], dim=1)},
        non_tensors={"data_source": column("data_source", "rftkit"), "reward_model": column("reward_model", {}),
                     "extra_info": column("extra_info", {})},
    )


def rewards_of(output: Any, batch: Any) -> list[float]:
    """The per-sample reward in ``rm_scores`` (verl puts it on the last response token)."""
    prompt_length = batch.batch["prompts"].size(1)
    last = batch.batch["attention_mask"][:, prompt_length:].sum(dim=1) - 1
    scores = output.batch["rm_scores"]
    return [float(scores[i, int(last[i])]) for i in range(len(batch))]


_VAR = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def documented_commands(markdown: str, program: str, variables: Mapping[str, str]) -> list[list[str]]:
    """The argument lists of the ``program`` commands in a page's ```sh blocks, ``$VARS`` filled in."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```$", markdown, re.M | re.S):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            if program not in line:
                continue
            filled = _VAR.sub(lambda m: variables[m.group(1) or m.group(2)], line)
            words = shlex.split(filled, comments=True)
            commands.append(words[words.index(program.split()[-1]) + 1 :])
    return commands
