"""``rftkit export verl``: an rftkit job as verl's data, config and launch command (the scale path).

verl runs where one machine is not enough (Ray over many), and it keeps PPO with a critic (the
ReFT recipe), which TRL no longer has. The export writes, into one directory:

* ``train.parquet`` (and ``val.parquet``): verl's RL dataset layout, one row per job row:
  ``data_source``, ``prompt`` (chat messages), ``ability``, ``reward_model.ground_truth`` and
  ``extra_info``. ``extra_info`` carries the whole job row as JSON (``rftkit_item``) beside its
  ``index``: Arrow would turn free-form fields into other values (ints into floats, missing keys
  into nulls, mixed types into an error), so the reward decodes the row exactly as written;
* ``grader.json``: the grader spec, which each Ray reward worker compiles for itself;
* ``launch.sh``: ``python3 -m verl.trainer.main_ppo`` with the Hydra overrides that point
  ``reward.custom_reward_function`` at ``rl_adapter/verl_reward.py`` and the grader.

The algorithm comes from the job (``grpo``, ``rloo``) or ``algorithm="ppo"`` (GAE with a
critic).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from graders import Grader, compile_spec
from rl_adapter._errors import JobConfigError
from rl_adapter._lossless import ITEM_COLUMN, prompt_of

Algorithm = Literal["grpo", "rloo", "ppo"]
# verl's advantage estimator per algorithm; GAE is the one that trains a critic (value model).
ADV_ESTIMATORS: dict[str, str] = {"grpo": "grpo", "rloo": "rloo", "ppo": "gae"}
DATA_SOURCE = "rftkit"
# Sequences per GPU forward pass: verl requires one; small enough for a 0.5B-7B model on one GPU.
MICRO_BATCH = 4
# The job row field exported as verl's ground truth when the job names none.
DEFAULT_REFERENCE_FIELDS = ("answer", "correct_answer", "reference", "label", "ground_truth")


@dataclass(frozen=True)
class VerlExport:
    """What ``export_verl`` wrote: the files and the launch command's Hydra overrides."""

    directory: Path
    train_file: Path
    val_file: Path | None
    grader_file: Path
    launch_file: Path
    overrides: tuple[str, ...]

    @property
    def command(self) -> str:
        """The launch command, one line."""
        return "python3 -m verl.trainer.main_ppo " + " ".join(shlex.quote(o) for o in self.overrides)


def check_ray_portable(grader: Grader, where: str = "grader") -> None:
    """Refuses a grader a Ray reward worker cannot rebuild from its spec.

    Each worker compiles ``grader.json``; an in-process function (``graders.from_function``)
    lives only in this process, so a worker would run something else (or nothing).

    Raises:
        JobConfigError: the grader, or one of its parts, is an in-process function.
    """
    if getattr(grader, "fn", None) is not None:
        raise JobConfigError(
            f"{where} {grader.name!r} is an in-process Python function (graders.from_function): a verl Ray "
            "worker cannot run it; write it as a 'python' grader spec (its source in the spec) or serve it "
            "with `rftkit serve` and give the reward the URL"
        )
    for key, child in (getattr(grader, "children", None) or {}).items():
        check_ray_portable(child, f"{where}.graders.{key}")


def reference_field_of(rows: Sequence[Mapping[str, Any]], grader: Grader, field: str | None) -> str | None:
    """The row field exported as ``ground_truth``: ``field``, else one the grader reads, else None."""
    if field is not None:
        return field
    fields = grader.item_fields
    for name in DEFAULT_REFERENCE_FIELDS:
        if name in fields or (not fields and rows and name in rows[0]):
            return name
    return next(iter(sorted(fields)), None)


def verl_rows(rows: Sequence[Mapping[str, Any]], reference_field: str | None, split: str) -> list[dict[str, Any]]:
    """verl's dataset rows for the job's rows (see the module docstring)."""
    out = []
    for index, row in enumerate(rows):
        prompt = prompt_of(row)
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        truth = row.get(reference_field) if reference_field else None
        out.append({
            "data_source": DATA_SOURCE,
            "prompt": messages,
            "ability": "rftkit",
            # The ground truth as JSON text: one Arrow type for every row; the reward reads the
            # row itself from extra_info, so this copy is for verl's logs and built-in scorers.
            "reward_model": {"style": "rule", "ground_truth": _as_text(truth)},
            "extra_info": {"split": split, "index": index, ITEM_COLUMN: json.dumps(row, ensure_ascii=False)},
        })
    return out


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def verl_overrides(
    *,
    train_file: Path,
    val_file: Path | None,
    grader_file: Path,
    reward_file: Path,
    model: str,
    algorithm: Algorithm,
    reference_field: str | None,
    batch_size: int,
    num_generations: int,
    max_prompt_length: int,
    max_response_length: int,
    learning_rate: float,
    epochs: int,
) -> list[str]:
    """The Hydra overrides of ``verl.trainer.main_ppo`` for the export."""
    overrides = [
        f"algorithm.adv_estimator={ADV_ESTIMATORS[algorithm]}",
        f"data.train_files={train_file}",
        f"data.val_files={val_file or train_file}",
        f"data.train_batch_size={batch_size}",
        f"data.max_prompt_length={max_prompt_length}",
        f"data.max_response_length={max_response_length}",
        f"actor_rollout_ref.model.path={model}",
        f"actor_rollout_ref.actor.optim.lr={learning_rate}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={batch_size}",
        f"actor_rollout_ref.rollout.n={num_generations if algorithm != 'ppo' else 1}",
        f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={MICRO_BATCH}",
        f"actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu={MICRO_BATCH}",
        f"actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu={MICRO_BATCH}",
        f"reward.custom_reward_function.path={reward_file}",
        "reward.custom_reward_function.name=compute_score",
        f"+reward.custom_reward_function.reward_kwargs.grader={grader_file}",
        f"+reward.custom_reward_function.reward_kwargs.ground_truth_field={reference_field or 'ground_truth'}",
        f"trainer.total_epochs={epochs}",
        "trainer.logger=[console]",
    ]
    if algorithm == "ppo":
        overrides += [f"critic.model.path={model}", f"critic.optim.lr={learning_rate}",
                      f"critic.ppo_micro_batch_size_per_gpu={MICRO_BATCH}"]
    else:
        # GRPO and RLOO take the KL penalty in the loss, against a reference policy (verl's recipe).
        overrides += ["actor_rollout_ref.actor.use_kl_loss=True", "algorithm.use_kl_in_reward=False"]
    return overrides


def write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)


def export_verl(
    rows: Sequence[Mapping[str, Any]],
    grader: Grader | Mapping[str, Any],
    directory: str | Path,
    *,
    model: str,
    validation_rows: Sequence[Mapping[str, Any]] | None = None,
    algorithm: Algorithm = "grpo",
    reference_field: str | None = None,
    batch_size: int = 16,
    num_generations: int = 8,
    max_prompt_length: int = 1024,
    max_response_length: int = 1024,
    learning_rate: float = 1e-6,
    epochs: int = 1,
) -> VerlExport:
    """Writes verl's parquet data, the grader and the launch command for a job into ``directory``.

    Raises:
        JobConfigError: the grader cannot run in a Ray worker, or the algorithm is unknown.
    """
    if algorithm not in ADV_ESTIMATORS:
        raise JobConfigError(f"unknown algorithm {algorithm!r} for verl (known: {', '.join(ADV_ESTIMATORS)})")
    compiled = grader if isinstance(grader, Grader) else compile_spec(dict(grader))
    check_ray_portable(compiled)
    out = Path(directory).resolve()
    out.mkdir(parents=True, exist_ok=True)
    field = reference_field_of(rows, compiled, reference_field)
    train_file = out / "train.parquet"
    write_parquet(verl_rows(rows, field, "train"), train_file)
    val_file = None
    if validation_rows:
        val_file = out / "val.parquet"
        write_parquet(verl_rows(validation_rows, field, "val"), val_file)
    grader_file = out / "grader.json"
    grader_file.write_text(json.dumps(compiled.spec.to_json(), indent=2) + "\n", encoding="utf-8")
    import rl_adapter.verl_reward as reward_module

    overrides = verl_overrides(
        train_file=train_file, val_file=val_file, grader_file=grader_file, reward_file=Path(reward_module.__file__),
        model=model, algorithm=algorithm, reference_field=field, batch_size=batch_size,
        num_generations=num_generations, max_prompt_length=max_prompt_length,
        max_response_length=max_response_length, learning_rate=learning_rate, epochs=epochs,
    )
    launch = out / "launch.sh"
    lines = ["#!/bin/sh", "# verl launch for this export (docs/trainers.md); add trainer.* overrides for the cluster.",
             "exec python3 -m verl.trainer.main_ppo \\"]
    lines += [f"    {shlex.quote(o)} \\" for o in overrides[:-1]] + [f"    {shlex.quote(overrides[-1])}"]
    launch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    launch.chmod(0o755)
    return VerlExport(out, train_file, val_file, grader_file, launch, tuple(overrides))


def export_job(
    config: str | Path, directory: str | Path, *, algorithm: Algorithm | None = None, model: str | None = None
) -> VerlExport:
    """``export_verl`` for an rftkit job file (a hosted job body or rftkit's flat format).

    The algorithm is the job's method (``grpo``, ``rloo``) unless ``algorithm`` says ``ppo``; the
    model is the job's unless ``model`` names a local directory or hub id for the cluster.

    Raises:
        JobConfigError: a bad job, data file or grader (the message names the field).
    """
    from rl_adapter._job._config import load_job
    from rl_adapter._job._train import _grader, _rows

    job = load_job(config)
    grader = _grader(job)
    rows = _rows(job, job.training_file, "training_file")
    valid = _rows(job, job.validation_file, "validation_file") if job.validation_file else None
    hp = job.hyperparameters
    return export_verl(
        rows, grader, directory, model=model or job.model, validation_rows=valid,
        algorithm=algorithm or job.method,
        batch_size=hp.batch_size if isinstance(hp.batch_size, int) else 16,
        num_generations=hp.num_generations or 8,
        max_response_length=hp.max_completion_length,
        learning_rate=hp.learning_rate or 1e-6,
        epochs=hp.n_epochs if isinstance(hp.n_epochs, int) else 1,
    )
