"""``rftkit api``: a local server that answers the hosted OpenAI API's graders endpoints.

A script written for the hosted service keeps working after only its ``base_url`` changes to
this server's ``/v1``. The app is assembled from route modules (``ROUTE_MODULES``): each one
exposes ``routes(ctx) -> fastapi.APIRouter``; the graders endpoints are one such module, and
further APIs (files, fine-tuning jobs) mount the same way.
"""

from rl_adapter._api.app import ROUTE_MODULES, ApiContext, ApiSettings, api_server, create_app, make_server
from rl_adapter._api.errors import ApiError

__all__ = ["ROUTE_MODULES", "ApiContext", "ApiError", "ApiSettings", "api_server", "create_app", "make_server"]
