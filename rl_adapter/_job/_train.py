"""``rftkit train``: a local RFT job (GRPO or RLOO through TRL), as the hosted service runs one.

``run_job(job, out_dir=..., resume=...)`` is the one entry point (the CLI and, later, the jobs
API's worker process call it). The run directory gets the hosted records (``job.json``,
``events.jsonl``, ``checkpoints.jsonl``: see ``_outputs``), an evalkit run per validation step
(``evals/step-N``), the kept checkpoints (``checkpoints/step-N``), the final model (``model``),
the trainer's own checkpoint for resuming (``trainer/checkpoint-N``, one, the latest validation
step), rftkit's flat ``metrics.jsonl``, and ``report.md`` / ``reward_curve.svg`` / ``result.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graders import Grader, MissingDependencyError, SpecError, compile_spec, load_spec
from rl_adapter._errors import DataFileError, DatasetMismatchError, JobConfigError, JobFailedError
from rl_adapter._job._auto import Resolved, resolve, resolve_thinking
from rl_adapter._job._config import JobConfig, parse_job
from rl_adapter._job._data import load_rows, render_prompts
from rl_adapter._job._outputs import JOB_FILE, JobRecords, job_object
from rl_adapter._job._recorder import CHECKPOINTS_DIR, EVALS_DIR, METRICS_FILE, Recorder
from rl_adapter._lossless import grading_item, trl_dataset
from rl_adapter._reward import check_dataset
from rl_adapter._trl import trl_reward

# The job as run (flat format, absolute paths, the local model): what ``--resume`` reads back.
RESOLVED_JOB_FILE = "rftkit_job.json"
TRAINER_DIR = "trainer"
FINAL_MODEL_DIR = "model"


@dataclass
class Prepared:
    """A job whose config, grader and data were all checked; no model is loaded yet."""

    job: JobConfig
    grader: Grader
    train_rows: list[dict[str, Any]]
    valid_rows: list[dict[str, Any]]
    output_dir: Path
    model: str  # "tiny" or a local model directory
    resolved: Resolved
    schema: dict[str, Any] | None


@dataclass
class JobResult:
    """What a finished job reports: the run directory, the metric lines and the best step."""

    output_dir: Path
    metrics: list[dict[str, Any]]
    best: dict[str, Any] | None
    seconds: float
    reward_seconds: float
    job: dict[str, Any] | None = None
    profile: dict[str, float] | None = None  # seconds by part of the training loop (see Recorder.profile)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (printed by ``rftkit train``)."""
        train = [m["train_reward_mean"] for m in self.metrics if m.get("train_reward_mean") is not None]
        job = self.job or {}
        return {
            "id": job.get("id"),
            "status": job.get("status"),
            "output_dir": str(self.output_dir),
            "fine_tuned_model": job.get("fine_tuned_model"),
            "steps": len(train),
            "train_reward_first": train[0] if train else None,
            "train_reward_last": train[-1] if train else None,
            "best_valid": self.best,
            "seconds": round(self.seconds, 2),
            "reward_share": round(self.reward_seconds / self.seconds, 4) if self.seconds else None,
        }


def resolve_model(job: JobConfig, model: str | None = None, aliases: Mapping[str, str] | None = None) -> str:
    """The local model a job trains: ``"tiny"`` or a directory.

    ``model`` (``--model``) replaces the job's; a name in ``aliases`` (``--model-alias
    NAME=LOCAL``) maps to its local model. Paths in the job are relative to the job file.

    Raises:
        JobConfigError: the name is neither ``tiny``, a directory, nor mapped (at ``model``).
    """
    name = model or job.model
    name = (aliases or {}).get(name, name)
    if name == "tiny":
        return name
    path = Path(name) if model else job.path(name)
    if path.is_dir():
        return str(path.resolve())
    raise JobConfigError(
        f"model {job.model!r} is not \"tiny\" and no model directory {str(path)!r} exists; map it to a local "
        f"model with --model DIR or --model-alias {job.model}=DIR",
        ("model",),
    )


def prepare(job: JobConfig, *, model: str | None = None, model_aliases: Mapping[str, str] | None = None) -> Prepared:
    """Checks everything that can be checked before a model loads.

    Raises:
        JobConfigError: a bad value, an unreadable grader file, a model that is not there,
            a dataset lacking a field the grader reads.
        DataFileError: a bad line in a data file (file and line named), an empty file.
    """
    from rl_adapter._job._format import ConformingGrader, schema_of

    schema = schema_of(job.response_format) if job.response_format is not None else None
    grader = _grader(job)
    train_rows = _rows(job, job.training_file, "training_file")
    valid_rows = _rows(job, job.validation_file, "validation_file") if job.validation_file else []
    for rows, key in ((train_rows, "training_file"), (valid_rows, "validation_file")):
        if rows:
            try:
                check_dataset(grader, rows)
            except DatasetMismatchError as exc:
                raise JobConfigError(str(exc), (key,)) from None
    local = resolve_model(job, model, model_aliases)
    if job.sft_warmup is not None:
        sft_rows = _rows(job, job.sft_warmup.file, "sft_warmup.file") if job.sft_warmup.file else train_rows
        field_ = job.sft_warmup.completion_field
        if not any(field_ in row for row in sft_rows):
            raise JobConfigError(f"no row has the completion field {field_!r}", ("sft_warmup", "completion_field"))
    if schema is not None:
        grader = ConformingGrader(grader, schema)
    resolved = resolve(job.hyperparameters, len(train_rows))
    return Prepared(job, grader, train_rows, valid_rows, Path(job.output_dir or "runs/job"), local, resolved, schema)


def _grader(job: JobConfig) -> Grader:
    try:
        if isinstance(job.grader, str):
            return load_spec(job.path(job.grader))
        return compile_spec(job.grader)
    except SpecError as exc:
        if isinstance(job.grader, str):
            raise JobConfigError(str(exc), ("grader",)) from None
        raise JobConfigError(exc.reason + exc.hint, ("grader", *exc.path)) from None
    except OSError as exc:
        reason = f"cannot read the grader spec {exc.filename}: {exc.strerror or exc}"
        raise JobConfigError(reason, ("grader",)) from None


def _rows(job: JobConfig, name: str | None, key: str) -> list[dict[str, Any]]:
    assert name is not None
    path = job.path(name)
    if not path.is_file():
        raise JobConfigError(f"file {str(path)!r} does not exist", tuple(key.split(".")))
    return load_rows(path)


def _import_rl() -> Any:
    try:
        import torch
        import trl  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "trl", "rl", "rftkit train needs torch and trl") from None
    return torch


@contextlib.contextmanager
def stop_on_sigterm(stop: threading.Event | None = None) -> Iterator[threading.Event]:
    """An Event that SIGTERM sets while the block runs, for ``run_job(stop=...)``: a job told to end
    stops at a checkpoint. Outside the main thread, where Python runs no signal handlers, it is never set.
    ``stop``: an Event an earlier handler may have set already (one installed before the imports).
    """
    stop = stop if stop is not None else threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


def load_resumable(out_dir: str | Path) -> JobConfig:
    """The job a run directory holds, for ``--resume`` without ``--config``.

    Raises:
        JobConfigError: the directory holds no job that ``rftkit train`` started.
    """
    path = Path(out_dir) / RESOLVED_JOB_FILE
    if not path.is_file():
        raise JobConfigError(f"{out_dir} holds no rftkit job to resume (no {RESOLVED_JOB_FILE}); pass --config")
    return parse_job(json.loads(path.read_text(encoding="utf-8")))


def run_job(
    job: JobConfig,
    *,
    out_dir: str | Path | None = None,
    max_steps: int | None = None,
    resume: bool = False,
    model: str | None = None,
    model_aliases: Mapping[str, str] | None = None,
    job_id: str | None = None,
    stop: threading.Event | None = None,
) -> JobResult:
    """Runs the RFT job: optional SFT warm-up, then GRPO/RLOO with periodic validation.

    Args:
        job: The validated job config (``parse_job`` / ``load_job``).
        out_dir: The run directory (default: the job's ``output_dir``).
        max_steps: Stop after this many steps (overrides ``n_epochs``/``max_steps``).
        resume: Continue the job in ``out_dir`` from its last checkpoint: the steps after it
            run again, and their events are replaced, so no step is counted twice.
        model: A local model directory (or ``tiny``) to train instead of the job's ``model``.
        model_aliases: Hosted model names mapped to local models.
        job_id: The ``ftjob-`` id of a new job (the jobs API assigns it at create); default a fresh one.
        stop: Set it (from a signal handler, another thread) to stop at the end of the step in
            flight: the trainer saves a checkpoint there, ``job.json`` stays ``running``, and a
            ``resume`` continues from that step (the jobs API's pause and shutdown).

    Returns:
        The JobResult (also written to the run directory).

    Raises:
        JobConfigError, DataFileError: before any model loads, when the config or data is bad.
        JobFailedError: the job stopped (e.g. its grader erred on every sample); ``job.json``
            says ``failed`` with the error.
        graders.MissingDependencyError: torch or trl is not installed (``pip install 'rftkit[rl]'``).
    """
    start = time.perf_counter()
    if out_dir is not None:
        job = job.model_copy(update={"output_dir": str(out_dir)})
    if max_steps is not None:
        hyper = job.hyperparameters.model_copy(update={"max_steps": max_steps})
        job = job.model_copy(update={"hyperparameters": hyper})
    prep = prepare(job, model=model, model_aliases=model_aliases)
    out = prep.output_dir
    checkpoint = last_trainer_checkpoint(out) if resume else None
    if resume and checkpoint is None and not (out / JOB_FILE).is_file():
        raise JobConfigError(f"{out} holds no job to resume; run without --resume to start it")
    torch = _import_rl()
    records = _records(prep, resume, job_id)
    try:
        with warnings.catch_warnings():
            for message in _THIRD_PARTY_WARNINGS:
                warnings.filterwarnings("ignore", message=message)
            return _run(prep, torch, records, checkpoint, start, resume, stop)
    except JobFailedError:
        raise
    except Exception as exc:
        records.save_job(status="failed", finished_at=int(time.time()),
                         error={"code": "training_error", "message": f"{type(exc).__name__}: {exc}"[:500],
                                "param": None})
        records.event(f"Job failed: {type(exc).__name__}: {exc}"[:500], step=0, level="error")
        raise
    finally:
        prep.grader.close()


# Deprecations that TRL itself triggers on every generation step; nothing a job can change.
_THIRD_PARTY_WARNINGS = (r"`is_gradient_checkpointing` is deprecated",)


def _records(prep: Prepared, resume: bool, job_id: str | None) -> JobRecords:
    out = prep.output_dir
    out.mkdir(parents=True, exist_ok=True)
    if resume and (out / JOB_FILE).is_file():
        job = json.loads((out / JOB_FILE).read_text(encoding="utf-8"))
        return JobRecords(out, job)
    for name in ("events.jsonl", "checkpoints.jsonl", METRICS_FILE):
        (out / name).unlink(missing_ok=True)
    for name in (EVALS_DIR, CHECKPOINTS_DIR, TRAINER_DIR):
        shutil.rmtree(out / name, ignore_errors=True)
    request = {**prep.job.model_dump(mode="json", exclude={"base_dir", "hyperparameters"})}
    records = JobRecords(out, job_object(job_id or JobRecords.new_job_id(), request, prep.resolved.to_dict()))
    records.save_job()
    spec = prep.job.model_dump(mode="json")
    spec.update(base_dir=str(Path(prep.job.base_dir).resolve()), output_dir=str(out.resolve()),
                model=prep.model if prep.model == "tiny" else str(Path(prep.model).resolve()))
    (out / RESOLVED_JOB_FILE).write_text(json.dumps(spec, indent=2) + "\n")
    records.event(f"Validating training file: {prep.job.training_file}", step=0)
    if prep.job.validation_file:
        records.event(f"Validating validation file: {prep.job.validation_file}", step=0)
    records.event("Files validated, moving job to queued state", step=0)
    if prep.job.integrations:
        kinds = ", ".join(sorted({i.type for i in prep.job.integrations}))
        note = f"Integrations ({kinds}) are recorded but not run here: the job's metrics are in {out}"
        records.event(note, step=0, level="warn")
        print(f"warning: {note}", file=sys.stderr, flush=True)
    return records


def last_trainer_checkpoint(out: Path) -> Path | None:
    """The run's newest complete trainer checkpoint (``trainer/checkpoint-N``), or None."""
    saved = [p for p in (out / TRAINER_DIR).glob("checkpoint-*")
             if p.name.rsplit("-", 1)[-1].isdigit() and (p / "trainer_state.json").is_file()]
    return max(saved, key=checkpoint_step, default=None)


def checkpoint_step(checkpoint: Path) -> int:
    """The step of a trainer checkpoint directory (``checkpoint-N``)."""
    return int(checkpoint.name.rsplit("-", 1)[-1])


def _run(
    prep: Prepared, torch: Any, records: JobRecords, checkpoint: Path | None, start: float, resume: bool,
    stop: threading.Event | None,
) -> JobResult:
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(key, "1")  # a local job never reaches for the hub
    hp = prep.job.hyperparameters
    cuda = torch.cuda.is_available()
    if not cuda:
        # More than one thread on a small CPU model gives multi-second stalls (see the TRL notes).
        torch.set_num_threads(hp.threads or 1)
    random.seed(hp.seed)
    torch.manual_seed(hp.seed)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    import datasets

    datasets.disable_progress_bars()
    out = prep.output_dir
    records.save_job(status="running")
    model_dir, tokenizer = _base_model(prep, reuse=checkpoint is not None)
    thinking, applied = resolve_thinking(prep.resolved.reasoning_effort, getattr(tokenizer, "chat_template", None))
    records.save_job(rftkit={"reasoning_effort": applied, "response_format": "in the prompt; checked when graded"
                             if prep.schema is not None else None, "resolved": prep.resolved.to_dict()})
    if prep.job.sft_warmup is not None:
        model_dir = _sft_warmup(prep, model_dir, tokenizer, cuda, thinking, reuse=checkpoint is not None)
    if checkpoint is None:
        records.event("Fine-tuning job started", step=0)
    recorder, trainer = _trainer(prep, records, model_dir, tokenizer, cuda, thinking, stop)
    resumed_at = checkpoint_step(checkpoint) if checkpoint is not None else 0
    if resume:
        # Steps after the checkpoint run again: what they recorded goes, so none is counted twice.
        recorder.resume_from(resumed_at, checkpoint)
        records.event(f"Job resumed from the checkpoint of step {resumed_at}", step=resumed_at)
    began = time.perf_counter()
    if checkpoint is not None and resumed_at >= trainer.args.max_steps:
        # Stopped after the last step's checkpoint, before the job finished: the trainer would run
        # one step past the total (it checks for the end only after a step), so only load the weights.
        trainer._load_from_checkpoint(str(checkpoint))
        trainer.state.global_step = resumed_at
    else:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint is not None else None)
    recorder.profile.update({"train_loop": time.perf_counter() - began, "trainer_checkpoint": trainer.saving_seconds,
                             "sampling": trainer.sampling_seconds, "reward": recorder.reward.stats["seconds"]})
    if recorder.failure is not None:
        records.save_job(status="failed", finished_at=int(time.time()), trained_tokens=recorder.trained_tokens,
                         error={"code": "grader_error", "message": recorder.failure, "param": "grader"})
        records.event(f"Job failed: {recorder.failure}", step=trainer.state.global_step, level="error")
        raise JobFailedError(recorder.failure)
    step = trainer.state.global_step
    stopped = stop is not None and stop.is_set() and step < trainer.args.max_steps  # at a step with a checkpoint
    if stopped:
        records.event(f"Training stopped at step {step}; the job resumes from the checkpoint saved there", step=step)
    else:
        final = out / FINAL_MODEL_DIR
        trainer.save_model(str(final))
        tokenizer.save_pretrained(final)
        records.event(f"New fine-tuned model created: {final.resolve()}", step=step)
        records.save_job(status="succeeded", finished_at=int(time.time()), fine_tuned_model=str(final.resolve()),
                         trained_tokens=recorder.trained_tokens)
        records.event("The job has successfully completed", step=step)
    result = JobResult(out, recorder.lines, recorder.best, time.perf_counter() - start,
                       recorder.reward.stats["seconds"], records.job, dict(recorder.profile))
    if not stopped:
        from rl_adapter._job._report import write_report

        write_report(result, prep.job)
    return result


def load_tokenizer(model_dir: str | Path, *, tiny: bool) -> Any:
    """The tokenizer saved with a model (left padding, a pad token), as training used it.

    ``tiny``: a model built from ``tiny``; its word-level tokenizer is loaded as saved, not by
    AutoTokenizer, which goes by the model type (Qwen2) and would drop it.
    """
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if tiny:
        return PreTrainedTokenizerFast.from_pretrained(str(model_dir), padding_side="left")
    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _base_model(prep: Prepared, *, reuse: bool) -> tuple[str, Any]:
    """The model as a directory TRL can load by path (a tiny model is built and saved first)."""
    if prep.model != "tiny":
        return prep.model, load_tokenizer(prep.model, tiny=False)
    model_dir = prep.output_dir / "base_model"
    if reuse and (model_dir / "config.json").is_file():
        return str(model_dir), load_tokenizer(model_dir, tiny=True)
    from rl_adapter._job._config import TinyModel
    from rl_adapter._job._tiny import build_tiny, words_of

    rows = prep.train_rows + prep.valid_rows
    values: list[Any] = render_prompts(rows, None, template_kwargs={}, schema=prep.schema)
    for row in rows:
        values.extend(v for k, v in row.items() if k not in ("prompt", "messages"))
    model, tokenizer = build_tiny(words_of(values), prep.job.tiny_model or TinyModel(), prep.job.hyperparameters.seed)
    # Saved and passed by path: TRL rebuilds a reference model from the path when beta > 0.
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return str(model_dir), tokenizer


def _common_args(prep: Prepared, cuda: bool, lr: float, seed: int) -> dict[str, Any]:
    hp = prep.job.hyperparameters
    bf16 = bool(hp.bf16) if hp.bf16 is not None else False
    if cuda and hp.bf16 is None:
        import torch

        bf16 = torch.cuda.is_bf16_supported()
    args: dict[str, Any] = {
        "learning_rate": lr,
        "seed": seed,
        "use_cpu": not cuda,
        "bf16": bf16,
        "report_to": "none",
        "save_strategy": "no",
        "logging_steps": 1,
        "disable_tqdm": True,
        "lr_scheduler_type": "constant",
    }
    from trl import GRPOConfig

    # transformers 5 renamed gradient_checkpointing; off: it only slows small models down.
    if "activation_checkpointing" in GRPOConfig.__dataclass_fields__:
        args["activation_checkpointing"] = False
    else:
        args["gradient_checkpointing"] = False
    return args


def _sft_warmup(prep: Prepared, model_dir: str, tokenizer: Any, cuda: bool, thinking: dict[str, Any], *,
                reuse: bool) -> str:
    target = prep.output_dir / "sft_model"
    if reuse and (target / "config.json").is_file():
        return str(target)
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    job = prep.job
    warm = job.sft_warmup
    assert warm is not None
    rows = load_rows(job.path(warm.file)) if warm.file else prep.train_rows
    rows = [r for r in rows if isinstance(r.get(warm.completion_field), str)]
    if not rows:
        raise DataFileError(f"no row has a string {warm.completion_field!r} for the SFT warm-up")
    prompts = render_prompts(rows, tokenizer, template_kwargs=thinking, schema=prep.schema)
    pairs = [{"prompt": p, "completion": _joinable(p, r[warm.completion_field])} for p, r in zip(prompts, rows,
                                                                                                  strict=True)]
    args = _common_args(prep, cuda, warm.learning_rate or prep.resolved.learning_rate, job.hyperparameters.seed)
    args.update(
        output_dir=str(prep.output_dir / "sft"),
        num_train_epochs=warm.n_epochs,
        per_device_train_batch_size=warm.batch_size,
    )
    trainer = SFTTrainer(model=model_dir, args=SFTConfig(**args), train_dataset=Dataset.from_list(pairs),
                         processing_class=tokenizer)
    _quiet(trainer)
    trainer.train()
    trainer.save_model(str(target))
    tokenizer.save_pretrained(target)
    return str(target)


def _joinable(prompt: Any, completion: str) -> str:
    """The completion, with a space first where SFT would glue it onto a text prompt's last word."""
    if isinstance(prompt, str) and prompt and not prompt[-1].isspace() and completion[:1] not in ("", " ", "\n"):
        return " " + completion
    return completion


def _quiet(trainer: Any) -> None:
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # events.jsonl has every number; keep stdout for the summary


def _timed(cls: Any) -> Any:
    """``cls`` with the wall time of its sampling (generation + grading) and saving added up (for
    ``timing.step`` and the runner's overhead), and without TRL's model card."""

    class Timed(cls):
        sampling_seconds = 0.0
        saving_seconds = 0.0  # the resumable checkpoints: part of the runner's overhead

        def _generate_and_score_completions(self, *args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return super()._generate_and_score_completions(*args, **kwargs)
            finally:
                self.sampling_seconds += time.perf_counter() - began

        def _save_checkpoint(self, *args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return super()._save_checkpoint(*args, **kwargs)
            finally:
                self.saving_seconds += time.perf_counter() - began

        def create_model_card(self, *args: Any, **kwargs: Any) -> None:
            # TRL writes a README model card at every checkpoint save: about half the save's time on
            # a small model. The run directory has report.md; the models need no card.
            return None

    Timed.__name__ = cls.__name__
    return Timed


def _trainer(
    prep: Prepared, records: JobRecords, model_dir: str, tokenizer: Any, cuda: bool, thinking: dict[str, Any],
    stop: threading.Event | None,
) -> tuple[Recorder, Any]:
    from transformers import TrainerCallback

    job = prep.job
    hp = job.hyperparameters
    res = prep.resolved
    reward = trl_reward(prep.grader)
    recorder = Recorder(
        grader=prep.grader, records=records, resolved=res, out=prep.output_dir, tokenizer=tokenizer, reward=reward,
        valid_items=[grading_item(r) for r in prep.valid_rows],
        valid_prompts=render_prompts(prep.valid_rows, tokenizer, template_kwargs=thinking, schema=prep.schema),
        max_completion_length=hp.max_completion_length, temperature=hp.temperature, keep=hp.keep_checkpoints,
    )
    holder: dict[str, Any] = {}

    class Callback(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
            recorder.start(state.max_steps, reward.stats)
            if state.global_step == 0 and not recorder.lines:
                recorder.validate(model, 0)
                recorder.write(0, {}, reward.stats)

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            recorder.clock.begin = time.perf_counter()
            holder["sampled"] = holder["trainer"].sampling_seconds

        def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
            step = state.global_step
            recorder.clock.sampling = holder["trainer"].sampling_seconds - holder["sampled"]
            if step % res.eval_interval == 0 or step >= state.max_steps:
                recorder.validate(model, step)
                control.should_save = True  # the trainer's resumable checkpoint, at each validation step
            if stop is not None and stop.is_set():  # asked to stop: at a checkpoint of this step
                control.should_save = control.should_training_stop = True
            recorder.clock.full = time.perf_counter() - recorder.clock.begin

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            recorder.keep_saved(Path(args.output_dir) / f"checkpoint-{state.global_step}")

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if logs and "reward" in logs and recorder.write(state.global_step, dict(logs), reward.stats):
                control.should_training_stop = True
                control.should_save = False

    args = _common_args(prep, cuda, res.learning_rate, res.seed)
    args.update(
        output_dir=str(prep.output_dir / TRAINER_DIR),
        per_device_train_batch_size=res.batch_size * res.num_generations,
        num_generations=res.num_generations,
        max_completion_length=hp.max_completion_length,
        temperature=hp.temperature,
        num_train_epochs=res.n_epochs,
        remove_unused_columns=False,
        save_total_limit=1,  # only the latest is needed to resume; kept models are in checkpoints/
        max_steps=res.total_steps,
    )
    if hp.beta is not None:
        args["beta"] = hp.beta
    if hp.loss_type is not None:
        args["loss_type"] = hp.loss_type
    prompts = render_prompts(prep.train_rows, tokenizer, template_kwargs=thinking, schema=prep.schema)
    # Not Dataset.from_list: Arrow would change the item fields before they reach the grader.
    dataset = trl_dataset(prep.train_rows, prompts=prompts)
    if job.method == "grpo":
        from trl import GRPOConfig as Config
        from trl import GRPOTrainer as Trainer
    else:
        from trl import RLOOConfig as Config  # type: ignore[assignment]
        from trl import RLOOTrainer as Trainer  # type: ignore[assignment]
    trainer = _timed(Trainer)(
        model=model_dir, reward_funcs=[reward], args=Config(**args), train_dataset=dataset,
        processing_class=tokenizer, callbacks=[Callback()],
    )
    holder["trainer"] = trainer
    _quiet(trainer)
    return recorder, trainer

