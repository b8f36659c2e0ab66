"""evalkit's subcommands of ``rftkit``: ``eval``, ``compare``, ``sample``.

Errors raise; ``rftkit.cli`` prints them as one line with the exit code they carry (1 the run
failed, e.g. a server down; 2 a usage error, an invalid grader spec, a malformed dataset line, a
missing file or run directory).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from evalkit._compare import compare
from evalkit._evaluate import DEFAULT_K, evaluate, merge_runs
from evalkit._report import REPORT_HTML, comparison_terminal, terminal, write_comparison, write_reports
from evalkit._rundir import RunDir
from evalkit._sample import DEFAULT_CONCURRENCY, SampleStats, sample
from rftkit import CommandParser, UsageError

# Line numbers of skipped bad lines shown on the terminal (run.json keeps more).
MAX_LINES_SHOWN = 10


def _ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 1,5,20, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected INDEX/COUNT like 0/4, got {text!r}") from None
    if not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"shard index must be in 0..COUNT-1, got {text!r}")
    return index, count


def _parser(command: str) -> argparse.ArgumentParser:
    parser = CommandParser(command)
    if command == "eval":
        parser.description = (
            "Grade predictions (a file, or sampled from a model server) on a dataset; print the metrics "
            "and write the run directory (scores.jsonl, report.json, report.md, report.html)."
        )
        parser.add_argument("--grader", help="grader spec JSON file")
        parser.add_argument("--data", help="dataset JSONL (an 'id' field per row, else the row number)")
        parser.add_argument("--predictions", help="predictions JSONL: {'id', 'output_text'}, several per id allowed")
        parser.add_argument("--k", type=_ints, default=list(DEFAULT_K), help="cut-offs for top@k / pass@k (1,5,20)")
        parser.add_argument("--by", action="append", default=[], help="item field to break metrics down by")
        parser.add_argument("--out", help="run directory (resumed when it holds a run of the same grader)")
        parser.add_argument("--skip-bad", action="store_true", help="skip and count malformed lines")
        parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
        parser.add_argument("--shard", type=_shard, help="grade only shard INDEX/COUNT of the item ids")
        parser.add_argument("--merge", nargs="+", metavar="RUN", help="merge shard run directories into --out")
        parser.add_argument(
            "--allow-partial", action="store_true", help="with --merge: merge shards that do not cover the dataset"
        )
        parser.add_argument("--baseline", metavar="RUN", help="a run to compare with (added to the reports)")
        parser.add_argument("--json", action="store_true", help="print report.json to stdout instead of a table")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
        _sampling_arguments(parser)
    elif command == "compare":
        parser.description = "Paired comparison of run B against run A (differences are B - A) on their shared items."
        parser.add_argument("run_a", metavar="RUN_A", help="baseline run directory")
        parser.add_argument("run_b", metavar="RUN_B", help="candidate run directory")
        parser.add_argument("--out", help="write comparison.json / .md / .html here")
        parser.add_argument("--seed", type=int, default=0, help="bootstrap and permutation seed (default 0)")
        parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    elif command == "sample":
        parser.description = "Sample predictions for a dataset from an OpenAI-compatible server (resumable)."
        parser.add_argument("--data", required=True, help="dataset JSONL")
        parser.add_argument("--out", required=True, help="predictions JSONL to write (appended; resumed)")
        parser.add_argument("--skip-bad", action="store_true", help="skip malformed dataset lines")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
        _sampling_arguments(parser)
    return parser


def _sampling_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sampling (an OpenAI-compatible server)")
    group.add_argument("--model", help="model name")
    group.add_argument("--base-url", help="server URL, e.g. http://127.0.0.1:8000/v1 (default $OPENAI_BASE_URL)")
    group.add_argument("-n", type=int, default=1, help="samples per item (default 1)")
    group.add_argument("--temperature", type=float, help="sampling temperature")
    group.add_argument("--top-p", type=float, help="nucleus sampling")
    group.add_argument("--max-tokens", type=int, help="completion token limit")
    group.add_argument("--sampling-seed", type=int, help="server-side sampling seed")
    group.add_argument("--prompt", help="prompt template ({{item.x}}) when items have no 'messages' field")
    group.add_argument("--system", help="system message added before the prompt")
    group.add_argument("--concurrency", type=int, help="requests in flight")


def main(command: str, argv: Sequence[str]) -> int:
    """Runs one evalkit subcommand; returns the exit code (errors raise, see ``rftkit.cli``)."""
    args = _parser(command).parse_args(list(argv))
    if command == "eval":
        return _eval(args)
    if command == "compare":
        return _compare(args)
    return _sample(args)


def _eval(args: argparse.Namespace) -> int:
    by = [field for value in args.by for field in value.split(",") if field]
    if args.merge:
        if not args.out:
            raise UsageError("rftkit eval: --merge needs --out")
        result = merge_runs(args.merge, out=args.out, allow_partial=args.allow_partial)
        if "partial" in result.config:
            print(f"warning: a partial merge: {result.config['partial']}", file=sys.stderr)
    else:
        if not args.grader or not args.data:
            raise UsageError("rftkit eval: --grader and --data are required")
        predictions = args.predictions
        if predictions is None:
            if not args.model:
                raise UsageError("rftkit eval: give --predictions FILE, or --model (and --base-url) to sample")
            if not args.out:
                raise UsageError("rftkit eval: sampling needs --out (the samples are saved there)")
            with RunDir(args.out).locked():  # two samplers into one file would pay for every call twice
                predictions = _sample_into(args, Path(args.out) / "predictions.jsonl").path
        result = evaluate(
            args.grader,
            args.data,
            predictions,
            k=args.k,
            by=by,
            out=args.out,
            skip_bad=args.skip_bad,
            seed=args.seed,
            shard=args.shard,
            progress=not args.quiet,
        )
        listed = result.config.get("skipped_lines") or {}
        for source, count in (result.config.get("skipped") or {}).items():
            _say_skipped(source, count, listed.get(source, []))
    comparison = None
    if args.baseline:
        names = (Path(args.baseline).name, Path(args.out).name if args.out else "this run")
        comparison = compare(args.baseline, result, seed=args.seed, names=names)
        if args.out:
            write_reports(result, args.out, comparison)
    if args.json:
        data = result.to_dict()
        if comparison is not None:
            data["comparison"] = comparison.to_dict()
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(terminal(result))
        if comparison is not None:
            print()
            print(comparison_terminal(comparison))
        if args.out:
            print(f"\nwrote {Path(args.out) / REPORT_HTML}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    comparison = compare(args.run_a, args.run_b, seed=args.seed)
    if args.out:
        write_comparison(comparison, args.out)
    if args.json:
        print(comparison.to_json())
    else:
        print(comparison_terminal(comparison))
        if args.out:
            print(f"\nwrote {Path(args.out) / 'comparison.html'}")
    return 0


def _say_skipped(source: str, count: int, lines: Sequence[int]) -> None:
    """``--skip-bad`` says what it skipped, so a file that is mostly bad does not pass unnoticed."""
    if count:
        shown = ", ".join(str(line) for line in lines[:MAX_LINES_SHOWN]) + (", ..." if count > MAX_LINES_SHOWN else "")
        print(f"skipped {count} bad line{'s' if count != 1 else ''} of {source} (line {shown})", file=sys.stderr)


def _sample(args: argparse.Namespace) -> int:
    if not args.model:
        raise UsageError("rftkit sample: --model is required")
    stats = _sample_into(args, Path(args.out))
    _say_skipped(str(args.data), len(stats.skipped), stats.skipped)  # (eval says it after grading)
    return 0


def _sample_into(args: argparse.Namespace, path: Path) -> SampleStats:
    if args.n < 1:
        raise UsageError("-n must be at least 1")
    stats = sample(
        args.data, path, model=args.model, base_url=args.base_url, n=args.n, prompt=args.prompt, system=args.system,
        temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens, seed=args.sampling_seed,
        concurrency=args.concurrency or DEFAULT_CONCURRENCY, skip_bad=args.skip_bad, progress=not args.quiet,
        shard=getattr(args, "shard", None),
    )  # fmt: skip
    print(f"sampled {stats.saved} new completions for {stats.items} items ({stats.reused} already saved) into {path}",
          file=sys.stderr)  # fmt: skip
    return stats
