"""The ``rftkit`` command: one entry point whose subcommands belong to graders, evalkit and rl_adapter.

Each package's ``cli`` module builds its arguments with ``CommandParser`` and raises its own
exceptions; ``rftkit.cli.main`` turns any of them into one line and the exit code it carries.
"""

from rftkit._command import CommandParser, UsageError, error_line

__all__ = ["CommandParser", "UsageError", "error_line"]
