"""``evaluate``: grade predictions for a dataset and compute the metrics; ``load_run``, ``merge_runs``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from evalkit._dataset import PathLike, Row, check_fields, check_ids, item_source, join, prediction_source, shard_of
from evalkit._errors import EvalError, RunDirError
from evalkit._metrics import MISSING, compute_metrics, group_metrics
from evalkit._progress import Progress
from evalkit._result import EvalResult, ItemScores
from evalkit._rundir import RunDir, collect, write_line
from graders import Grader, Score, compile_spec, load_spec

DEFAULT_K = (1, 5, 20)
# Samples per grade_batch call: large enough to amortise the call, small enough that scores reach
# scores.jsonl (and the progress bar) every fraction of a second.
BATCH_SAMPLES = 512
_NO_GROUP: dict[str, str] = {}
# Skipped line numbers kept in run.json per file (the count is always complete).
MAX_LISTED = 100


def evaluate(
    grader: Grader | Mapping[str, Any] | PathLike,
    items: PathLike | Iterable[Row],
    predictions: PathLike | Iterable[Row],
    *,
    k: Sequence[int] = DEFAULT_K,
    by: str | Sequence[str] = (),
    out: PathLike | None = None,
    skip_bad: bool = False,
    seed: int = 0,
    shard: tuple[int, int] | None = None,
    progress: bool = False,
) -> EvalResult:
    """Grades every prediction against its item and computes the metrics.

    Args:
        grader: A compiled Grader, a spec mapping, or the path of a spec JSON file.
        items: The dataset: a JSONL path or an iterable of mappings. An item's id is its ``id``
            field, else its 0-based position.
        predictions: A JSONL path or an iterable of mappings ``{"id", "output_text" |
            "output_json" | "output_tools"}``; several per id give n samples (pass@k, maj@k).
        k: Cut-offs for top@k, pass@k and maj@k.
        by: Item field(s) to break the metrics down by (``result.groups``).
        out: Run directory: writes ``run.json``, ``scores.jsonl`` (one line per item, as it
            goes), ``report.json``, ``report.md`` and ``report.html``. An existing run directory
            of the same grader is resumed: items already in ``scores.jsonl`` are not graded again.
        skip_bad: Skip malformed lines instead of raising; ``config["skipped"]`` counts them per
            file and ``config["skipped_lines"]`` lists the first line numbers.
        seed: Seed of the bootstrap CIs.
        shard: ``(index, count)``: grade only the items whose id hashes to shard ``index``
            (``evalkit.shard_of``); merge the shards' run directories with ``merge_runs``.
        progress: Draw a progress bar on stderr (only when the run takes over a second).

    Returns:
        The EvalResult (metrics, per-group metrics, per-item scores). For graders that call
        models, ``config["usage"]`` holds this call's token usage per model.

    Raises:
        DatasetError: A malformed line (names file and line), raised before anything is graded.
        IdMismatchError: Prediction ids that match no item, or items without a prediction.
        RunDirError: ``out`` holds a run of a different grader or shard.
        SpecError: ``grader`` is an invalid spec.

    Example:
        >>> result = evaluate("specs/gene_rank.json", "examples/data/gene_ranking/valid.jsonl",
        ...                   "examples/data/gene_ranking/baseline_predictions_valid.jsonl")  # doctest: +SKIP
        >>> round(result.metrics["top@1"], 3)                                                   # doctest: +SKIP
        0.567
    """
    compiled = _compile(grader)
    try:
        with contextlib.nullcontext() if out is None else RunDir(out).locked():
            return _evaluate(compiled, items, predictions, k=k, by=by, out=out, skip_bad=skip_bad, seed=seed,
                             shard=shard, progress=progress)  # fmt: skip
    finally:
        if compiled is not grader:  # compiled here from a spec: its HTTP clients and workers are ours to close
            compiled.close()


def _evaluate(
    compiled: Grader,
    items: PathLike | Iterable[Row],
    predictions: PathLike | Iterable[Row],
    *,
    k: Sequence[int],
    by: str | Sequence[str],
    out: PathLike | None,
    skip_bad: bool,
    seed: int,
    shard: tuple[int, int] | None,
    progress: bool,
) -> EvalResult:
    fields = (by,) if isinstance(by, str) else tuple(by)
    ks = tuple(sorted(set(k)))
    if not ks or min(ks) < 1:
        raise EvalError(f"k must be positive integers, got {list(k)}")
    if shard is not None and not 0 <= shard[0] < shard[1]:
        raise EvalError(f"shard index must be in 0..{shard[1] - 1}, got {shard[0]}")
    item_src = item_source(items, skip_bad=skip_bad)
    pred_src = prediction_source(predictions, skip_bad=skip_bad)
    check_ids(item_src, pred_src, shard)
    check_fields(item_src, fields)
    config: dict[str, Any] = {
        "grader": compiled.spec.model_dump(mode="json", exclude_none=True),
        "items": item_src.name,
        "predictions": pred_src.name,
        # File sizes guard a resume: scores of an older version of a file must not be mixed in.
        "sizes": {src: _size(src) for src in (item_src.name, pred_src.name) if _size(src) is not None},
        "k": list(ks),
        "by": list(fields),
        "seed": seed,
        "shard": None if shard is None else f"{shard[0]}/{shard[1]}",
        "skipped": {item_src.name: len(item_src.skipped), pred_src.name: len(pred_src.skipped)},
        "skipped_lines": {item_src.name: item_src.skipped[:MAX_LISTED], pred_src.name: pred_src.skipped[:MAX_LISTED]},
    }
    run = None if out is None else RunDir(out)
    done = [] if run is None else run.start(config)
    done_ids = {item.id for item in done}

    def wanted(item_id: str) -> bool:
        return item_id not in done_ids and (shard is None or shard_of(item_id, shard[1]) == shard[0])

    total = None
    if item_src.ids is not None:
        total = sum(1 for i in item_src.ids if wanted(i))
    bar = Progress(total, enabled=progress)
    item_rows, pred_rows = item_src.rows(), pred_src.rows()
    if done_ids or shard is not None:
        item_rows = ((i, row) for i, row in item_rows if wanted(i))
        pred_rows = ((i, row) for i, row in pred_rows if wanted(i))
    pairs = join(item_rows, pred_rows, pred_src.counts, pred_src.name)
    new: list[ItemScores] = []
    with contextlib.ExitStack() as stack:
        settle = stack.enter_context(_settled_heap())
        handle = None if run is None else stack.enter_context(run.open_scores())
        # Async graders (model judges) grade a batch concurrently on one event loop for the whole
        # run. Inside a running loop (a notebook) that is impossible; their sync path is used.
        meter = stack.enter_context(_track_usage()) if compiled.is_async else None
        runner = stack.enter_context(asyncio.Runner()) if compiled.is_async and not _loop_running() else None
        for batch in _batches(pairs):
            samples = [pred for _, _, preds in batch for pred in preds]
            rows = [row for _, row, preds in batch for _ in preds]
            scores: list[Score]
            if runner is not None:
                scores = runner.run(compiled.agrade_batch(samples, rows))
            else:
                scores = compiled.grade_batch(samples, rows)
            at = 0
            for item_id, row, preds in batch:
                group = {f: _group_value(row, f) for f in fields} if fields else _NO_GROUP
                scored = ItemScores(item_id, scores[at : at + len(preds)], group)
                at += len(preds)
                new.append(scored)
                if handle is not None:
                    write_line(handle, scored)
            if handle is not None:
                handle.flush()
            bar.update(len(batch))
            settle()
        bar.close()
        if meter is not None:
            config["usage"] = {model: usage.to_dict() for model, usage in meter.snapshot().items()}
        result = _result(done + new, config)
    if run is not None:
        _write_reports(result, run.path)
    return result


def _track_usage() -> contextlib.AbstractContextManager[Any]:
    """Sums the model judges' token usage per model (imported only for graders that call models)."""
    from graders.client import track_usage

    return track_usage()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@contextlib.contextmanager
def _settled_heap() -> Iterator[Callable[[], None]]:
    """Yields a function that moves every live object out of the collector's sight until the end.

    The per-item scores only grow during a run, yet each full collection of the cyclic garbage
    collector walks all of them again: on a million items that made a run 1.5x slower than the
    bare grader. ``gc.freeze`` after each batch spares them; everything is unfrozen at the end.
    Left alone when the application froze objects itself or disabled the collector.
    """
    if gc.get_freeze_count() or not gc.isenabled():
        yield lambda: None
        return
    try:
        yield gc.freeze
    finally:
        gc.unfreeze()


def _size(source: str) -> int | None:
    try:
        return os.path.getsize(source)
    except OSError:  # an in-memory source ("<items>")
        return None


def _compile(grader: Grader | Mapping[str, Any] | PathLike) -> Grader:
    if isinstance(grader, Grader):
        return grader
    if isinstance(grader, (str, os.PathLike)):
        return load_spec(Path(grader))
    return compile_spec(grader)


def _group_value(row: Row, name: str) -> str:
    value = row.get(name)
    if value is None:
        return MISSING
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _batches(pairs: Iterable[tuple[str, Row, list[Row]]]) -> Iterator[list[tuple[str, Row, list[Row]]]]:
    batch: list[tuple[str, Row, list[Row]]] = []
    size = 0
    for pair in pairs:
        batch.append(pair)
        size += len(pair[2])
        if size >= BATCH_SAMPLES:
            yield batch
            batch = []
            size = 0
    if batch:
        yield batch


def _result(items: list[ItemScores], config: dict[str, Any]) -> EvalResult:
    ks = config.get("k") or DEFAULT_K
    seed = config.get("seed", 0)
    fields = config.get("by") or []
    metrics = compute_metrics(items, k=ks, seed=seed)
    groups = group_metrics(items, fields, k=ks, seed=seed) if fields else {}
    return EvalResult(metrics, groups, items, config)


def _coverage_gap(paths: Sequence[PathLike], merged: set[str], config: Mapping[str, Any]) -> str | None:
    """What the merged shards leave out of the dataset, or None when they cover it.

    Shards name themselves ``i/n`` in run.json, so a missing shard shows even where the dataset
    file is not at hand; where it is, every item id is checked (an unfinished shard shows too).
    """
    shards = [RunDir(path).config().get("shard") for path in paths]
    counts = {str(s).split("/")[1] for s in shards if s}
    absent: list[str] = []
    if len(counts) == 1 and all(shards):
        n = int(counts.pop())
        have = {int(str(s).split("/")[0]) for s in shards}
        absent = [f"{i}/{n}" for i in range(n) if i not in have]
    where = f" (shard {', '.join(absent)} missing)" if absent else ""
    source = str(config.get("items", ""))
    if os.path.isfile(source):
        skip = bool((config.get("skipped") or {}).get(source))
        ids = item_source(source, skip_bad=skip).ids or []
        covered = sum(1 for i in ids if i in merged)
        if covered < len(ids):
            return f"the merged runs cover {covered} of {len(ids)} items of {source}{where}"
        return None
    return f"the merged runs lack shard {', '.join(absent)}" if absent else None


def _write_reports(result: EvalResult, path: Path) -> None:
    from evalkit._report import write_reports

    write_reports(result, path)


def load_run(path: PathLike) -> EvalResult:
    """Reads a run directory back into an EvalResult (metrics recomputed from ``scores.jsonl``).

    Raises:
        RunDirError: ``path`` has no ``scores.jsonl`` or a line of it is not a scores line.
    """
    items, config = collect([path])
    return _result(items, config)


def merge_runs(paths: Sequence[PathLike], out: PathLike | None = None, *, allow_partial: bool = False) -> EvalResult:
    """Merges the run directories of shards of one run (``evaluate(..., shard=(i, n))``).

    Args:
        paths: The shards' run directories.
        out: Where to write the merged run directory (``scores.jsonl`` and the reports).
        allow_partial: Merge even when the shards do not cover the dataset (a shard missing or
            unfinished); ``config["partial"]`` then says what is covered.

    Raises:
        RunDirError: A directory is not a run, two shards hold the same item, or (without
            ``allow_partial``) the shards do not cover the dataset.
    """
    items, config = collect(paths)
    config = {**config, "shard": None, "merged_from": [str(p) for p in paths]}
    gap = _coverage_gap(paths, {item.id for item in items}, config)
    if gap is not None:
        if not allow_partial:
            raise RunDirError(f"{gap}; merge every shard, or pass --allow-partial to merge these alone")
        config["partial"] = gap
    result = _result(items, config)
    if out is not None:
        run = RunDir(out)
        with run.locked():
            (run.path / "run.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", "utf-8")
            with run.scores_path.open("w", encoding="utf-8") as handle:
                for item in items:
                    write_line(handle, item)
            _write_reports(result, run.path)
    return result
