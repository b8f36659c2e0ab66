"""``rftkit check SPEC --data valid.jsonl``: property checks and reward-hacking probes on real items.

Exit codes: 0 nothing found, 1 a property failed or a probe was flagged (so it can gate CI);
errors raise, and ``rftkit.cli`` prints them as one line with the code they carry (2 for a
usage, spec or dataset error).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from graders._errors import ErrorKind, GraderError
from graders._grader import Grader
from graders._jsonl import DataFileError, iter_jsonl
from graders._registry import load_spec
from rftkit import CommandParser, UsageError

# Probes run on the first rows of the dataset: enough for stable means, quick for a judge.
DEFAULT_LIMIT = 200
DEFAULT_MAX_EXAMPLES = 100
# A model judge pays per call (and each example makes several): fewer examples by default.
DEFAULT_JUDGE_EXAMPLES = 20
# Probe outputs are shown in the report up to this many characters.
_EXAMPLE_CHARS = 120
# Model calls a judge spec may make before the check stops: a judge pays per call, and the
# default check of a judge on 200 rows needs a few thousand (the estimate printed first says).
DEFAULT_MAX_CALLS = 2000
# For the estimate: grades per hypothesis example (the sample, its regrade, its batch of one,
# the item's reference and empty outputs and laws; measured on specs/judge_qa.json), and per edge
# output of the first items (graded, regraded and batched, each time an example draws that item).
_GRADES_PER_EXAMPLE = 7
_GRADES_PER_EDGE = 3


def _parser() -> argparse.ArgumentParser:
    from graders.testing._probes import DEFAULT_THRESHOLD

    parser = CommandParser(
        "check",
        description="Property-test a grader on real items, then probe it for reward hacking. "
        "Exit 1 when a property fails or a probe earns more than the threshold.",
    )
    parser.add_argument("spec", help="grader spec JSON file")
    parser.add_argument("--data", required=True, help="JSONL dataset: one item (a JSON object) per line")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help=f"rows to use (default {DEFAULT_LIMIT})")
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help=f"flag a probe earning more than this fraction of the reference's score (default {DEFAULT_THRESHOLD})",
    )
    parser.add_argument(
        "--max-examples",
        type=int,
        default=None,
        help=f"hypothesis examples for the property checks (default {DEFAULT_MAX_EXAMPLES}, "
        f"{DEFAULT_JUDGE_EXAMPLES} for model judges; 0 skips them)",
    )
    parser.add_argument(
        "--max-calls",
        type=int,
        default=DEFAULT_MAX_CALLS,
        help=f"model judges: stop before more than this many model calls (default {DEFAULT_MAX_CALLS}; "
        "cached replies are free)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


class CallLimitError(GraderError):
    """``rftkit check`` stopped at ``--max-calls`` before it was done (exit 1: the run failed)."""


def main(command: str, argv: Sequence[str]) -> int:
    """Runs ``rftkit check``; returns the exit code (errors raise, see ``rftkit.cli``)."""
    args = _parser().parse_args(list(argv))
    if args.limit < 1 or (args.max_examples or 0) < 0 or not args.threshold >= 0 or args.max_calls < 0:  # NaN too
        raise UsageError("rftkit check: --limit must be >= 1, --max-examples, --max-calls and --threshold >= 0")
    items = read_items(args.data, args.limit)
    grader = load_spec(args.spec)
    examples = args.max_examples
    if examples is None:
        examples = DEFAULT_JUDGE_EXAMPLES if grader.is_async else DEFAULT_MAX_EXAMPLES
    from graders.client import CallLimitReached, limit_calls

    with grader, limit_calls(args.max_calls) as calls:
        progress = None
        if grader.is_async:  # a model judge: slow and paid, so say what is coming and how far it got
            estimate = estimate_calls(grader, items, examples)
            _say(f"{args.spec} calls a model judge: about {estimate} calls (at most --max-calls "
                 f"{args.max_calls}; cached replies are free)")  # fmt: skip

            def progress(stage: str) -> None:
                _say(f"{stage} ({calls.sent} model calls so far)")

        try:
            report = check(grader, items, threshold=args.threshold, max_examples=examples, progress=progress)
        except CallLimitReached:
            raise CallLimitError(
                f"rftkit check stopped before it was done: {calls.sent} model calls reached --max-calls "
                f"{args.max_calls}; raise it, or check fewer rows (--limit) or examples (--max-examples)"
            ) from None
        if progress is not None:
            _say(f"done ({calls.sent} model calls)")
    report["spec"] = args.spec
    report["data"] = args.data
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else format_report(report))
    return 1 if report["flagged"] else 0


def read_items(path: str, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` rows of a JSONL file; a bad line raises with file and line number."""
    items: list[dict[str, Any]] = []
    for _, row in iter_jsonl(path):
        items.append(row)
        if len(items) >= limit:
            break
    if not items:
        raise DataFileError("no rows", path)
    return items


def _say(line: str) -> None:
    print(f"rftkit check: {line}", file=sys.stderr, flush=True)


def estimate_calls(grader: Grader, items: list[dict[str, Any]], max_examples: int) -> int:
    """About how many model calls ``check`` makes, erring high (and fewer where replies are cached).

    Measured on specs/judge_qa.json with 5 rows: 2, 20 and 50 examples made 191, 305 and 1,355
    calls, estimated as 239, 775 and 1,669 (hypothesis draws the edge-tested items unevenly).
    """
    from graders.testing._probes import count_probe_outputs
    from graders.testing._profiles import profile
    from graders.testing._properties import EDGE_ITEMS
    from graders.testing._slots import graders_in
    from graders.testing._strategies import edge_samples

    per_grade = sum(getattr(sub, "samples", 1) for sub in graders_in(grader) if profile(sub.spec.type).judge)
    grades = len(items) + count_probe_outputs(grader, items)
    if max_examples:
        edges = sum(len(edge_samples(grader, item)) for item in items[:EDGE_ITEMS]) * _GRADES_PER_EDGE
        # The first items' edges once, then again whenever an example draws one of those items.
        grades += edges + round(max_examples * (_GRADES_PER_EXAMPLE + edges / len(items)))
    return per_grade * grades


def check(
    grader: Grader,
    items: list[dict[str, Any]],
    *,
    threshold: float,
    max_examples: int,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Runs the property checks and the probes; returns the report as a JSON-ready dict.

    ``progress`` is called with a line before each stage and probe (``rftkit check`` prints it).
    """
    say = progress or (lambda stage: None)
    from graders.testing._probes import run_probes
    from graders.testing._properties import GraderPropertyError, assert_grader_properties
    from graders.testing._strategies import reference_sample

    report: dict[str, Any] = {"items": len(items), "notes": []}
    missing = [i for i, item in enumerate(items) if not grader.item_fields <= item.keys()]
    if missing:
        fields = sorted(grader.item_fields - items[missing[0]].keys())
        report["notes"].append(
            f"{len(missing)} of {len(items)} rows lack fields the spec reads (row {missing[0] + 1} lacks "
            f"{', '.join(fields)}); they grade as invalid_variable_error"
        )
    references = [(reference_sample(grader, item), item) for item in items]
    built = [(sample, item) for sample, item in references if sample is not None]
    unusable = False
    if not built:
        report["notes"].append(
            "no reference output can be built for this spec (no input/reference templates to invert); "
            "probes are compared with the grader's maximum"
        )
    else:
        say(f"grading {len(built)} reference answers")
        first = grader.grade(*built[0])
        if first.error is not None and first.error.kind == ErrorKind.MODEL_GRADER_SERVER_ERROR:
            # No server, a wrong model or key: every one of the hundreds of calls to come would fail the
            # same way, each after its retries, so stop here with the reason.
            raise GraderError(f"the judge cannot grade the first reference answer: {first.error.message}")
        scores = [first, *grader.grade_batch([s for s, _ in built[1:]], [i for _, i in built[1:]])]
        errors = Counter(score.error.kind for score in scores if score.error is not None)
        if errors:
            kinds = ", ".join(f"{kind} x{n}" for kind, n in errors.most_common())
            report["notes"].append(f"{sum(errors.values())} of {len(built)} reference answers could not be graded "
                                   f"({kinds})")
        unusable = sum(errors.values()) == len(built)
    report["properties"] = {"ok": True, "examples": max_examples}
    if max_examples:
        say(f"property checks: {max_examples} hypothesis examples")
        try:
            assert_grader_properties(grader, items, max_examples=max_examples, derandomize=True)
        except GraderPropertyError as exc:
            report["properties"] = {"ok": False, "examples": max_examples, "law": exc.law, "failure": str(exc)}
    probes = run_probes(grader, items, threshold=threshold, on_probe=lambda probe: say(f"probe {probe.name}"))
    report["threshold"] = threshold
    report["probes"] = [dict(r.to_dict(), example=_clip(r.example)) for r in probes]
    report["flagged"] = [r.probe for r in probes if r.flagged] + ([] if report["properties"]["ok"] else ["properties"])
    if unusable:  # nothing was measured: a judge without a server, a reference field of the wrong kind
        report["flagged"].append("reference_errors")
    return report


def _clip(value: Any) -> str | None:
    if value is None:
        return None
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _EXAMPLE_CHARS else text[:_EXAMPLE_CHARS] + "..."


def format_report(report: dict[str, Any]) -> str:
    """The report as the table ``rftkit check`` prints."""
    lines = [f"rftkit check {report.get('spec', '')} on {report['items']} rows of {report.get('data', '')}"]
    lines += [f"note: {note}" for note in report["notes"]]
    props = report["properties"]
    if not props["examples"]:
        lines.append("properties: skipped (--max-examples 0)")
    elif props["ok"]:
        lines.append(f"properties: ok ({props['examples']} hypothesis examples on these rows)")
    else:
        lines.append(f"properties: FAILED\n{props['failure']}")
    lines.append("")
    header = f"{'probe':<20} {'earns':>6} {'reference':>9} {'ratio':>6} {'limit':>6} {'rows':>5}  verdict"
    lines += [header, "-" * len(header)]
    for row in report["probes"]:
        if not row["items"]:
            lines.append(f"{row['probe']:<20} {'':>6} {'':>9} {'':>6} {'':>6} {0:>5}  n/a ({row['description']})")
            continue
        verdict = "FLAGGED" if row["flagged"] else "ok"
        ratio = "inf" if row["ratio"] is None else f"{row['ratio']:.2f}"
        lines.append(
            f"{row['probe']:<20} {row['earned']:>6.3f} {row['reference']:>9.3f} {ratio:>6} "
            f"{row['limit']:>6.2f} {row['items']:>5}  {verdict}"
        )
    flagged = [row for row in report["probes"] if row["flagged"]]
    for row in flagged:
        if row["ratio"] is None:
            earns = f"earns {row['earned']:.3f} where the reference answer earns {row['reference']:.3f}"
        else:
            earns = f"earns {row['ratio']:.0%} of the reference's score"
        lines.append(f"\n{row['probe']} ({row['description']}) {earns}")
        lines.append(f"  e.g. {row['example']}")
        lines.append(f"  fix: {row['fix']}")
    n = len(report["flagged"])
    threshold = report["threshold"]
    lines.append(
        f"\n{n} finding{'s' if n != 1 else ''} (threshold {threshold:g} of the reference's score)"
        if n
        else f"\nno findings (threshold {threshold:g} of the reference's score)"
    )
    return "\n".join(lines)
