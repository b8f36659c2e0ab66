"""Errors in the OpenAI API's shape: ``{"error": {"message", "type", "param", "code"}}``.

The official client reads this body into its exceptions (``BadRequestError.message``,
``.code``, ``.param``), so a route raises ``ApiError`` and the client shows what went wrong.
"""

from __future__ import annotations

import json
from typing import Any


class ApiError(Exception):
    """An error answer: HTTP ``status`` with the OpenAI error body.

    Args:
        status: The HTTP status (400, 401, 404, 413, ...).
        message: What was wrong, for a person.
        type: OpenAI's error type (``invalid_request_error``, ``server_error``, ...).
        param: The request field at fault (a JSON path such as ``grader.graders.a.input``), or None.
        code: A machine-readable code, or None.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",  # noqa: A002 - OpenAI's field name
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        """The JSON body of the answer."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def encode(self) -> bytes:
        return json.dumps(self.body()).encode()


async def json_body(request: Any) -> Any:
    """The request's body parsed as JSON (a starlette Request).

    Raises:
        ApiError: 400, the body is not valid JSON.
    """
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
