"""``rftkit api``: serve the hosted graders, files and fine-tuning jobs APIs on this machine."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from rftkit import CommandParser, UsageError
from rl_adapter._api.app import DEFAULT_LIMITS, GRADE_TIMEOUT_S, ApiSettings, is_loopback

# The judge cache, inside the working directory.
JUDGE_CACHE = "judge_cache.sqlite"


def _parser(command: str) -> argparse.ArgumentParser:
    parser = CommandParser(
        command,
        "Serve the OpenAI fine-tuning graders, files and fine-tuning jobs APIs "
        "locally: point the official client's base_url at http://HOST:PORT/v1.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (outside loopback needs --token)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workdir", default="rftkit-api",
                        help="state directory (judge cache, files, jobs; default ./rftkit-api)")
    parser.add_argument("--token", help="bearer token clients must send (their api_key)")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_LIMITS.max_body_bytes)
    parser.add_argument(
        "--max-concurrent", type=int, default=DEFAULT_LIMITS.max_concurrent, help="gradings at the same time"
    )
    parser.add_argument("--grade-timeout", type=float, default=GRADE_TIMEOUT_S, help="seconds per grading")
    parser.add_argument("--model-alias", action="append", default=[], metavar="NAME=LOCAL",
                        help="map a hosted model name to a local model directory or 'tiny' (repeatable)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    return parser


def main(command: str, argv: Sequence[str]) -> int:
    """Runs ``rftkit api`` until SIGINT/SIGTERM; returns the exit code (errors raise, see ``rftkit.cli``)."""
    from rl_adapter.cli import model_aliases

    args = _parser(command).parse_args(list(argv))
    if args.token is None and not is_loopback(args.host):
        raise UsageError(f"rftkit api: binding {args.host} (outside loopback) needs --token")
    try:
        limits = dataclasses.replace(
            DEFAULT_LIMITS, max_body_bytes=args.max_body_bytes, max_concurrent=args.max_concurrent
        )
        aliases = model_aliases(args.model_alias)
        settings = ApiSettings(Path(args.workdir), args.token, limits, args.grade_timeout, aliases)
    except ValueError as exc:
        raise UsageError(f"rftkit api: {exc}") from None
    return _serve(settings, args.host, args.port, args.log_level)


def _serve(settings: ApiSettings, host: str, port: int, log_level: str) -> int:
    from graders import client
    from rl_adapter._api.app import make_server
    from rl_adapter._http_limits import run_server

    settings.workdir.mkdir(parents=True, exist_ok=True)
    client.configure(cache=settings.workdir / JUDGE_CACHE)
    server = make_server(settings, host=host, port=port, log_level=log_level)
    auth = "bearer token required" if settings.token else "no token"
    print(f"rftkit api: http://{host}:{port}/v1 ({auth}; workdir {settings.workdir})", file=sys.stderr, flush=True)
    try:
        run_server(server)
    finally:
        server.context.close()
    return 0
