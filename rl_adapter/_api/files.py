"""``/v1/files``: upload (multipart), list, retrieve, content and delete, in the OpenAI API's shapes.

The official client's ``client.files.create(file=..., purpose="fine-tune")`` stores the file
under ``--workdir``; a fine-tuning job names it by its ``file-...`` id.
"""


from typing import Any

from rl_adapter._api.app import ApiContext
from rl_adapter._api.errors import ApiError
from rl_adapter._api.store import FileRow, Store, page, store_of

# The purposes the OpenAI API accepts; only fine-tune files are used here, the rest are kept.
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")


def routes(context: ApiContext) -> Any:
    """The files endpoints."""
    from fastapi import APIRouter, Request
    from starlette.datastructures import UploadFile
    from starlette.responses import Response

    router = APIRouter()

    @router.post("/files")
    async def create(request: Request) -> dict[str, Any]:
        async with request.form() as form:
            upload, purpose = form.get("file"), form.get("purpose")
            if not isinstance(upload, UploadFile):
                raise ApiError(400, "missing the file: send it as the multipart field 'file'", param="file")
            if purpose not in PURPOSES:
                raise ApiError(400, f"purpose must be one of {', '.join(PURPOSES)}, not {purpose!r}",
                               param="purpose")
            content = await upload.read()
        return store_of(context).add_file(upload.filename or "upload", str(purpose), content).to_dict()

    @router.get("/files")
    def list_files(purpose: str | None = None, after: str | None = None, limit: int | None = None,
                   order: str = "desc") -> dict[str, Any]:
        rows = [row.to_dict() for row in store_of(context).files(purpose)]
        if order not in ("asc", "desc"):
            raise ApiError(400, f"order must be 'asc' or 'desc', not {order!r}", param="order")
        return page(rows[::-1] if order == "asc" else rows, after=after, limit=limit)

    @router.get("/files/{file_id}")
    def retrieve(file_id: str) -> dict[str, Any]:
        return stored_file(store_of(context), file_id).to_dict()

    @router.get("/files/{file_id}/content")
    def content(file_id: str) -> Response:
        store = store_of(context)
        stored_file(store, file_id)
        return Response(store.file_path(file_id).read_bytes(), media_type="application/octet-stream")

    @router.delete("/files/{file_id}")
    def delete(file_id: str) -> dict[str, Any]:
        store = store_of(context)
        stored_file(store, file_id)
        store.delete_file(file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    return router


def stored_file(store: Store, file_id: str, *, param: str | None = None) -> FileRow:
    """The file with id ``file_id``.

    Raises:
        ApiError: 404 when there is none (``param`` names the request field that gave the id).
    """
    row = store.file(file_id)
    if row is None:
        raise ApiError(404, f"no such file: {file_id!r}", param=param, code="file_not_found")
    return row
