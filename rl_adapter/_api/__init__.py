"""``rftkit api``: a local server that answers the hosted OpenAI API's graders, files and fine-tuning jobs endpoints.

A script written for the hosted service keeps working after only its ``base_url`` changes to
this server's ``/v1``. The app is assembled from route modules (``ROUTE_MODULES``): each one
exposes ``routes(ctx) -> fastapi.APIRouter``: ``graders``, ``files`` and ``jobs`` (whose jobs run
one at a time in worker processes, ``worker``; state in SQLite, ``store``).
"""

from rl_adapter._api.app import ROUTE_MODULES, ApiContext, ApiSettings, api_server, create_app, make_server
from rl_adapter._api.errors import ApiError

__all__ = ["ROUTE_MODULES", "ApiContext", "ApiError", "ApiSettings", "api_server", "create_app", "make_server"]
