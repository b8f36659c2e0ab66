"""``rftkit SUBCOMMAND ...``: dispatches to the package that owns the subcommand.

The table below names each subcommand's module without importing it, so ``rftkit validate``
never imports evalkit, torch or trl. Each owning module has ``main(command, argv) -> int`` and
raises on a problem; ``main`` here is the one place that prints it: one line on stderr, and the
exit code the exception carries (0 success, 1 a run failed, 2 a usage or input error such as a
bad spec or a missing file).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from rftkit._command import EXIT_USAGE, error_line, exit_code_of

# Commands that pick up where an interrupted run stopped when given the same arguments again.
RESUMABLE = frozenset({"eval", "sample"})

COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("graders.cli", "check a grader spec; exit 2 with the JSON path of the first problem"),
    "grade": ("graders.cli", "grade one sample against one item and print the Score as JSON"),
    "schema": ("graders.cli", "print the JSON Schema of every grader kind"),
    "check": ("graders.testing.cli", "property-test a grader on real items and probe it for reward hacking"),
    "eval": ("evalkit.cli", "evaluate predictions (from a file or a model server) on a validation set"),
    "compare": ("evalkit.cli", "paired comparison of two evaluation runs"),
    "sample": ("evalkit.cli", "sample predictions for a dataset from an OpenAI-compatible server"),
    "train": ("rl_adapter.cli", "run a local RFT job (GRPO or RLOO through TRL) from a job config"),
    "serve": ("rl_adapter.cli", "serve a grader as an HTTP reward service"),
    "export": ("rl_adapter.cli", "export a job for verl (parquet data, grader, launch command): many machines, PPO"),
    "api": ("rl_adapter._api.cli", "serve the OpenAI graders API locally (the official client's run/validate)"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name.ljust(width)}  {help_}" for name, (_, help_) in COMMANDS.items()]
    return "usage: rftkit COMMAND [ARGS]  (rftkit COMMAND --help for its arguments)\n\ncommands:\n" + "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``rftkit`` with ``argv`` (default ``sys.argv[1:]``) and returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage(), file=sys.stdout if args else sys.stderr)  # asked for: stdout; a usage error: stderr
        return 0 if args else EXIT_USAGE
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        from graders import did_you_mean

        hint = did_you_mean(command, COMMANDS)
        print(f"rftkit: unknown command {command!r}{hint} (commands: {', '.join(COMMANDS)})", file=sys.stderr)
        return EXIT_USAGE
    module = importlib.import_module(COMMANDS[command][0])
    try:
        code: int = module.main(command, rest)
    except KeyboardInterrupt:
        hint = "; rerun the same command to resume" if command in RESUMABLE else ""
        print(f"rftkit {command}: interrupted{hint}", file=sys.stderr)
        return 130  # the shell's code for SIGINT
    except Exception as exc:
        exit_code = exit_code_of(exc)
        if exit_code is None:
            raise  # a bug: keep its traceback
        print(f"error: {error_line(exc)}", file=sys.stderr)
        return exit_code
    return code
