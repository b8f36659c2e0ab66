"""evalkit: evaluate a model on a validation set with any grader.

Mean reward with a standard error and bootstrap CI, pass rate, top@k from ranked lists, pass@k
and maj@k over several samples, error rates by kind, breakdowns by item field, paired
comparisons of two runs, and reports (JSON, Markdown, self-contained HTML).

Example:
    >>> from evalkit import evaluate
    >>> from graders import compile_spec
    >>> grader = compile_spec({"type": "string_check", "name": "exact", "operation": "eq",
    ...                        "input": "{{sample.output_text}}", "reference": "{{item.answer}}"})
    >>> result = evaluate(grader, [{"id": "a", "answer": "4"}, {"id": "b", "answer": "6"}],
    ...                   [{"id": "a", "output_text": "4"}, {"id": "b", "output_text": "5"}])
    >>> result.metrics["mean"]
    0.5
"""

from evalkit._compare import Comparison, compare
from evalkit._dataset import read_jsonl, shard_of
from evalkit._errors import DatasetError, EvalError, IdMismatchError, RunDirError
from evalkit._evaluate import evaluate, load_run, merge_runs
from evalkit._metrics import ScoreColumns, compute_metrics, register_metric
from evalkit._report import write_comparison, write_reports
from evalkit._result import EvalResult, ItemScores
from evalkit._sample import SampleStats, sample
from evalkit._stats import pass_at_k
from evalkit._svg import line_chart

__all__ = [
    "Comparison",
    "DatasetError",
    "EvalError",
    "EvalResult",
    "IdMismatchError",
    "ItemScores",
    "RunDirError",
    "SampleStats",
    "ScoreColumns",
    "compare",
    "compute_metrics",
    "evaluate",
    "line_chart",
    "load_run",
    "merge_runs",
    "pass_at_k",
    "read_jsonl",
    "register_metric",
    "sample",
    "shard_of",
    "write_comparison",
    "write_reports",
]
