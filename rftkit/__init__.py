"""The ``rftkit`` command: one entry point whose subcommands belong to graders, evalkit and rl_adapter."""
