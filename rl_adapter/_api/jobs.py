"""``/v1/fine_tuning/jobs``: create, list, retrieve, cancel, pause, resume, events, checkpoints.

Create checks everything ``rftkit train --check`` checks, at once, and answers 400 naming what
is wrong: the body (unknown fields with a did-you-mean and the JSON path), the files (file id,
name and line of a bad line; an empty validation file), the grader against the rows, the model
(a hosted name needs ``--model-alias NAME=LOCAL``). A valid job is queued; ``JobQueue`` runs
the jobs one at a time in worker processes. The job object, its events and checkpoints are the
records the runner writes in the job's run directory (``rl_adapter._job._outputs``), with the
queue's status and the file ids the client used.
"""

import time
from typing import Any

from rl_adapter._api.app import ApiContext
from rl_adapter._api.errors import ApiError, json_body
from rl_adapter._api.files import stored_file
from rl_adapter._api.store import JobRow, Store, page, store_of
from rl_adapter._api.worker import FINISHED, JobQueue, job_records, read_run_job, resume_step
from rl_adapter._errors import DataFileError, JobConfigError
from rl_adapter._job._outputs import CHECKPOINTS_FILE, EVENTS_FILE, job_object, read_jsonl

# Fields of the runner's job.json that the API's job object takes (the rest stay as created).
_RUN_FIELDS = ("method", "hyperparameters", "fine_tuned_model", "trained_tokens", "error", "finished_at", "rftkit",
               "result_files", "estimated_finish")


def routes(context: ApiContext) -> Any:
    """The fine-tuning jobs endpoints; a server restarted on a workdir with pending jobs runs them."""
    from fastapi import APIRouter, Request

    router = APIRouter()

    def queue() -> JobQueue:
        def make() -> JobQueue:
            jobs = JobQueue(store_of(context))
            context.on_close(jobs.close)
            return jobs

        return context.shared("queue", make)

    from rl_adapter._api.store import DB_FILE

    if (context.settings.workdir / DB_FILE).is_file() and store_of(context).next_job() is not None:
        queue().wake()

    @router.post("/fine_tuning/jobs")
    async def create(request: Request) -> dict[str, Any]:
        body = await json_body(request)
        store = store_of(context)
        row = checked_job(store, body, context.settings.model_aliases)
        queue().wake()
        return view(store, row)

    @router.get("/fine_tuning/jobs")
    def list_jobs(request: Request, after: str | None = None, limit: int | None = None) -> dict[str, Any]:
        store = store_of(context)
        jobs = [view(store, row) for row in store.jobs()]
        wanted = metadata_filter(request.query_params.multi_items())
        if wanted is not None:
            jobs = [job for job in jobs if _metadata_matches(job.get("metadata"), wanted)]
        return page(jobs, after=after, limit=limit)

    @router.get("/fine_tuning/jobs/{job_id}")
    def retrieve(job_id: str) -> dict[str, Any]:
        store = store_of(context)
        return view(store, stored_job(store, job_id))

    @router.post("/fine_tuning/jobs/{job_id}/cancel")
    def cancel(job_id: str) -> dict[str, Any]:
        return change(job_id, "cancelled", ("validating_files", "queued", "running", "paused"), "Job cancelled")

    @router.post("/fine_tuning/jobs/{job_id}/pause")
    def pause(job_id: str) -> dict[str, Any]:
        return change(job_id, "paused", ("queued", "running"), "Job paused")

    @router.post("/fine_tuning/jobs/{job_id}/resume")
    def resume(job_id: str) -> dict[str, Any]:
        return change(job_id, "queued", ("paused",), "Job queued to resume from its last checkpoint")

    def change(job_id: str, status: str, allowed: tuple[str, ...], message: str) -> dict[str, Any]:
        store = store_of(context)
        row = stored_job(store, job_id)
        if not store.set_status(job_id, status, only_from=allowed):
            raise ApiError(400, f"job {job_id} is {stored_job(store, job_id).status}; it can be made {status} "
                                f"only when {' or '.join(allowed)}", param="fine_tuning_job_id")
        queue().stop_job(job_id, snapshot=status == "paused")
        records = job_records(store, row)
        if status in FINISHED:
            records.save_job(status=status, finished_at=int(time.time()))
        records.event(message, step=resume_step(store.run_dir(job_id)))
        queue().wake()
        return view(store, stored_job(store, job_id))

    @router.get("/fine_tuning/jobs/{job_id}/events")
    def events(job_id: str, after: str | None = None, limit: int | None = None) -> dict[str, Any]:
        store = store_of(context)
        stored_job(store, job_id)
        newest_first = read_jsonl(store.run_dir(job_id) / EVENTS_FILE)[::-1]
        return page(newest_first, after=after, limit=limit)

    @router.get("/fine_tuning/jobs/{job_id}/checkpoints")
    def checkpoints(job_id: str, after: str | None = None, limit: int | None = None) -> dict[str, Any]:
        store = store_of(context)
        stored_job(store, job_id)
        return page(read_jsonl(store.run_dir(job_id) / CHECKPOINTS_FILE), after=after, limit=limit)

    return router


def metadata_filter(params: list[tuple[str, str]]) -> dict[str, str] | None:
    """The jobs list's ``metadata[k]=v`` query (``{}`` for ``metadata=null``: jobs without metadata).

    None when the query has no metadata filter.

    Raises:
        ApiError: a ``metadata`` parameter of another form, or both forms at once.
    """
    wanted: dict[str, str] = {}
    null = False
    for key, value in params:
        if key == "metadata" and value == "null":
            null = True
        elif key.startswith("metadata[") and key.endswith("]"):
            wanted[key[len("metadata["):-1]] = value
        elif key.startswith("metadata"):
            raise ApiError(400, f"filter by metadata with metadata[KEY]=VALUE or metadata=null, not {key}={value}",
                           param="metadata")
    if null and wanted:
        raise ApiError(400, "metadata=null and metadata[KEY]=VALUE cannot be combined", param="metadata")
    return {} if null else (wanted or None)


def _metadata_matches(metadata: dict[str, str] | None, wanted: dict[str, str]) -> bool:
    if not wanted:  # metadata=null
        return not metadata
    return metadata is not None and all(metadata.get(k) == v for k, v in wanted.items())


def stored_job(store: Store, job_id: str) -> JobRow:
    row = store.job(job_id)
    if row is None:
        raise ApiError(404, f"no such fine-tuning job: {job_id!r}", param="fine_tuning_job_id", code="job_not_found")
    return row


def view(store: Store, row: JobRow) -> dict[str, Any]:
    """The ``fine_tuning.job`` object: as created, updated from the runner's record, the queue's status."""
    obj = dict(row.object)
    run = read_run_job(store.run_dir(row.id))
    if run is not None:
        obj.update({key: run[key] for key in _RUN_FIELDS if key in run})
    obj["status"] = row.status
    return obj


def checked_job(store: Store, body: Any, aliases: Any) -> JobRow:
    """Validates a create body against the stored files and queues the job.

    Raises:
        ApiError: 400 naming the field (a JSON path), or the file and line, at fault.
    """
    from rl_adapter._job._config import is_hosted, parse_job
    from rl_adapter._job._outputs import JobRecords
    from rl_adapter._job._train import prepare

    if not is_hosted(body):
        raise ApiError(400, "the body must be a hosted fine-tuning job: method must be an object "
                            '({"type": "reinforcement", "reinforcement": {...}})', param="method")
    names = {}
    located = dict(body)
    for key in ("training_file", "validation_file"):
        file_id = body.get(key)
        if not isinstance(file_id, str):
            raise ApiError(400, f"missing required field {key} (a file id from POST /v1/files)", param=key)
        stored = stored_file(store, file_id, param=key)
        located[key] = str(store.file_path(file_id).resolve())
        names[located[key]] = f"{file_id} ({stored.filename})"

    def where(message: str) -> str:
        for path, name in names.items():
            message = message.replace(path, name)
        return message

    try:
        job = parse_job(located)
        prep = prepare(job, model_aliases=aliases)
    except JobConfigError as exc:
        param = ".".join(str(p) for p in exc.path) or None
        raise ApiError(400, where(str(exc)), param=param) from None
    except DataFileError as exc:
        raise ApiError(400, where(str(exc)), code="invalid_file") from None
    prep.grader.close()
    request = {**job.model_dump(mode="json"), "training_file": body["training_file"],
               "validation_file": body["validation_file"]}
    obj = job_object(JobRecords.new_job_id(), request, prep.resolved.to_dict())
    obj["status"] = "queued"
    store.add_job(obj, job.model_dump(mode="json"), prep.model)
    return stored_job(store, obj["id"])
