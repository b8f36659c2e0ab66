"""The rl_adapter subcommands of ``rftkit``: ``train``, ``serve`` and ``export``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from rftkit import CommandParser, UsageError

# `rftkit train` stopped by SIGTERM at a step it saved a checkpoint for: the shell's 128 + SIGTERM.
STOPPED_EXIT = 143


def _parser(command: str) -> argparse.ArgumentParser:
    parser = CommandParser(command)
    if command == "train":
        parser.description = (
            "Run a local RFT job (GRPO or RLOO through TRL) from a hosted job body or an rftkit job config."
        )
        parser.epilog = (
            "SIGTERM (kill PID) stops the job at a checkpoint of the step in flight and exits 143; "
            "--resume --out DIR continues it from there."
        )
        parser.add_argument("--config", help="job JSON file (required unless --resume reads it from --out)")
        parser.add_argument("--out", "--output-dir", dest="out", help="run directory (default: runs/<config stem>)")
        parser.add_argument("--model", help="local model directory (or 'tiny') to train instead of the job's model")
        parser.add_argument("--model-alias", action="append", default=[], metavar="NAME=LOCAL",
                            help="map a hosted model name to a local model directory (repeatable)")
        parser.add_argument("--max-steps", type=int, help="stop after this many steps (overrides n_epochs)")
        parser.add_argument("--resume", action="store_true", help="continue the job in --out from its last checkpoint")
        parser.add_argument("--check", action="store_true", help="validate the config and data, then exit")
    elif command == "export":
        parser.description = "Export an RFT job for verl: parquet data, the grader and the launch command."
        parser.add_argument("engine", choices=["verl"], help="the trainer to export for")
        parser.add_argument("config", help="job JSON file (hosted job body or rftkit job config)")
        parser.add_argument("out", help="directory to write train.parquet, grader.json and launch.sh into")
        parser.add_argument("--algorithm", choices=["grpo", "rloo", "ppo"],
                            help="default: the job's method; ppo trains a critic (verl's GAE)")
        parser.add_argument("--model", help="model path or hub id on the cluster (default: the job's model)")
    else:
        from rl_adapter._server import MAX_BODY_BYTES, MAX_CONCURRENT_BATCHES, MAX_SAMPLES, TOKEN_ENV

        parser.description = "Serve a grader as an HTTP reward service (OpenRLHF protocol, /grade, /health)."
        parser.add_argument("spec", help="grader spec JSON file")
        parser.add_argument("--host", default="127.0.0.1", help="interface to bind (0.0.0.0 for all)")
        parser.add_argument("--port", type=int, default=8900)
        parser.add_argument(
            "--token-env", default=TOKEN_ENV, help=f"env var holding the bearer token (default {TOKEN_ENV})"
        )
        parser.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES)
        parser.add_argument("--max-concurrent", type=int, default=MAX_CONCURRENT_BATCHES)
        parser.add_argument("--max-samples", type=int, default=MAX_SAMPLES, help="samples per request (413 past it)")
        parser.add_argument("--label-field", default="label", help="item field for OpenRLHF labels")
        parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    return parser


def main(command: str, argv: Sequence[str]) -> int:
    """Runs ``train``, ``serve`` or ``export``; returns the exit code (errors raise, see ``rftkit.cli``)."""
    args = _parser(command).parse_args(list(argv))
    if command == "train":
        return _train(args)
    if command == "export":
        return _export(args)
    return _serve(args)


def _export(args: argparse.Namespace) -> int:
    from rl_adapter._verl_export import export_job

    export = export_job(args.config, args.out, algorithm=args.algorithm, model=args.model)
    print(f"wrote {export.directory}: {export.train_file.name}, {export.grader_file.name}, {export.launch_file.name}")
    print(export.command)
    return 0


def model_aliases(entries: Sequence[str]) -> dict[str, str]:
    """``--model-alias NAME=LOCAL`` options (``train`` and ``api``) as a mapping.

    Raises:
        UsageError: an entry is not ``NAME=LOCAL``.
    """
    aliases = {}
    for entry in entries:
        name, sep, local = entry.partition("=")
        if not (sep and name and local):
            raise UsageError(f"--model-alias takes NAME=LOCAL, not {entry!r}")
        aliases[name] = local
    return aliases


def _train(args: argparse.Namespace) -> int:
    from rl_adapter._job._config import load_job
    from rl_adapter._job._train import load_resumable, prepare, run_job, stop_on_sigterm

    aliases = model_aliases(args.model_alias)
    if args.config:
        job = load_job(args.config)
    elif args.resume and args.out:
        job = load_resumable(args.out)
    else:
        raise UsageError("give --config JOB.json (or --resume --out DIR to continue a job)")
    if args.out:
        job = job.model_copy(update={"output_dir": args.out})
    if args.check:
        prep = prepare(job, model=args.model, model_aliases=aliases)
        prep.grader.close()
        print(f"{args.config}: ok; hyperparameters {json.dumps(prep.resolved.to_dict())}")
        return 0
    with stop_on_sigterm() as stop:
        result = run_job(job, max_steps=args.max_steps, resume=args.resume, model=args.model,
                         model_aliases=aliases, stop=stop)
    print(json.dumps(result.summary(), indent=2))
    if (result.job or {}).get("status") == "running":  # SIGTERM: stopped at a step with a checkpoint
        print(f"rftkit train: stopped on SIGTERM; continue with: rftkit train --resume --out {result.output_dir}",
              file=sys.stderr)
        return STOPPED_EXIT
    return 0


def _serve(args: argparse.Namespace) -> int:
    from graders import load_spec
    from rl_adapter._backend import GraderBackend
    from rl_adapter._server import serve

    backend = GraderBackend(load_spec(args.spec))
    token = os.environ.get(args.token_env) or None
    auth = f"bearer token from ${args.token_env}" if token else "no token"
    print(f"rftkit serve: grader {backend.name!r} on http://{args.host}:{args.port} ({auth})", file=sys.stderr)
    fields = sorted(backend.item_fields - {"prompt"})
    if fields and args.label_field not in fields:
        # Otherwise every /get_reward sample is an invalid_variable_error scored 0, and training goes on blind.
        print(
            f"warning: grader reads item field(s) {', '.join(fields)}; OpenRLHF labels (/get_reward) go to item "
            f"field {args.label_field!r}: pass --label-field {fields[0]} (or send labels as JSON objects)",
            file=sys.stderr,
        )
    from rl_adapter._http_limits import ServerLimits

    serve(
        backend,
        host=args.host,
        port=args.port,
        token=token,
        limits=ServerLimits(
            max_body_bytes=args.max_body_bytes, max_concurrent=args.max_concurrent, max_samples=args.max_samples
        ),
        label_field=args.label_field,
        log_level=args.log_level,
    )
    return 0
