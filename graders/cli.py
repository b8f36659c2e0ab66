"""The graders' subcommands of ``rftkit``: validate, grade, schema."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from graders._errors import ErrorKind, SpecError
from graders._registry import json_schema, load_spec
from rftkit import CommandParser, UsageError, error_line


def _parser(command: str) -> argparse.ArgumentParser:
    parser = CommandParser(command)
    if command == "validate":
        parser.description = "Check grader specs. Exit 0 when valid, 2 with one line per invalid spec."
        parser.add_argument("specs", nargs="+", help="grader spec JSON files")
    elif command == "grade":
        parser.description = "Grade one sample against one item; print the Score as JSON."
        parser.add_argument("spec", help="grader spec JSON file")
        parser.add_argument("--sample", required=True, help="the model output: JSON (object or string) or plain text")
        parser.add_argument("--item", default="{}", help="the dataset row as a JSON object")
        parser.add_argument("--no-cache", action="store_true", help="model graders: do not read or write the cache")
        parser.add_argument("--cache", metavar="PATH", help="model graders: the cache file (default: $RFTKIT_CACHE)")
        parser.add_argument("--base-url", metavar="URL", help="model graders: the server for every judge")
    elif command == "schema":
        parser.description = "Print the JSON Schema of every grader kind."
    return parser


def main(command: str, argv: Sequence[str]) -> int:
    """Runs one graders subcommand; returns the exit code (errors raise, see ``rftkit.cli``)."""
    args = _parser(command).parse_args(list(argv))
    if command == "validate":
        return _validate(args.specs)
    if command == "grade":
        _configure_client(args)
        return _grade(args.spec, args.sample, args.item)
    print(json.dumps(json_schema(), indent=2))
    return 0


def _validate(paths: list[str]) -> int:
    code = 0
    for path in paths:
        if path.endswith(".schema.json"):  # so `rftkit validate specs/*.json` just works
            print(f"{path}: skipped (a JSON Schema, not a grader spec)")
            continue
        try:
            load_spec(path).close()
            print(f"{path}: ok")
        except (SpecError, OSError) as exc:  # one line per bad spec, and go on with the next
            print(error_line(exc), file=sys.stderr)
            code = SpecError.exit_code
    return code


def _configure_client(args: argparse.Namespace) -> None:
    changes: dict[str, Any] = {}
    if args.no_cache:
        changes["cache"] = None
    elif args.cache:
        changes["cache"] = args.cache
    if args.base_url:
        changes["base_url"] = args.base_url
    if changes:
        from graders.client import configure

        configure(**changes)


def _grade(spec_path: str, sample_text: str, item_text: str) -> int:
    try:
        item = json.loads(item_text)
    except ValueError as exc:
        raise UsageError(f"--item is not JSON: {exc}") from None
    if not isinstance(item, dict):
        raise UsageError("--item must be a JSON object")
    sample: Any
    try:
        parsed = json.loads(sample_text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and ({"output_text", "output_json", "output_tools", "choices"} & parsed.keys()):
        sample = parsed  # a sample object
    elif isinstance(parsed, str):
        sample = parsed  # a JSON string: the output text
    else:
        sample = sample_text  # anything else is the output text itself (JSON output included)
    with load_spec(spec_path) as grader:
        missing = sorted(grader.item_fields - item.keys())
        if missing:  # else the score below is an invalid_variable_error that reads like a verdict
            given = "without --item" if not item else "with an --item that lacks them"
            print(
                f"warning: {spec_path} reads item field{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                f"graded {given}, the score is an {ErrorKind.INVALID_VARIABLE_ERROR}",
                file=sys.stderr,
            )
        score = grader.grade(sample, item)
    print(json.dumps(score.to_dict(), ensure_ascii=False))
    return 0
