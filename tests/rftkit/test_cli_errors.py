"""One error path: the same mistake gets the same exit code and one stderr line from every command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalkit import DatasetError, EvalError, RunDirError
from graders import GraderError, MissingDependencyError, SpecError
from rftkit import UsageError
from rftkit.cli import main
from rl_adapter import DatasetMismatchError, JobConfigError, RLAdapterError
from rl_adapter._errors import DataFileError

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "gene_rank.json"
DATA = ROOT / "examples" / "data" / "gene_ranking" / "valid.jsonl"
PREDICTIONS = ROOT / "examples" / "data" / "gene_ranking" / "baseline_predictions_valid.jsonl"
TINY = ROOT / "examples" / "tiny_rft"


@pytest.mark.parametrize(
    ("error", "code"),
    [(GraderError, 1), (SpecError, 2), (MissingDependencyError, 1), (EvalError, 1), (DatasetError, 2),
     (RunDirError, 2), (RLAdapterError, 1), (JobConfigError, 2), (DataFileError, 2), (DatasetMismatchError, 2),
     (UsageError, 2)],  # fmt: skip
)
def test_every_exception_class_carries_its_exit_code(error: type[Exception], code: int) -> None:
    assert error.exit_code == code  # type: ignore[attr-defined]


def _job(tmp_path: Path, **changes: str) -> Path:
    """A copy of the tiny job whose file names can point at missing files or directories."""
    for name in ("train.jsonl", "valid.jsonl", "grader.json"):
        shutil.copy(TINY / name, tmp_path / name)
    job = json.loads((TINY / "job.json").read_text(encoding="utf-8"))
    job.update(changes)
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job), encoding="utf-8")
    return path


def _commands(bad: str, tmp_path: Path) -> dict[str, list[str]]:
    """Each command with ``bad`` in the place of one of its input files."""
    eval_ = ["eval", "--grader", str(SPEC), "--data", str(DATA), "--predictions", str(PREDICTIONS), "--quiet"]
    return {
        "validate": ["validate", bad],
        "grade": ["grade", bad, "--sample", "x"],
        "check spec": ["check", bad, "--data", str(DATA)],
        "check data": ["check", str(SPEC), "--data", bad],
        "eval grader": [*eval_[:2], bad, *eval_[3:]],
        "eval data": [*eval_[:4], bad, *eval_[5:]],
        "eval predictions": [*eval_[:6], bad, *eval_[7:]],
        "eval baseline": [*eval_, "--baseline", bad],
        "compare": ["compare", bad, bad],
        "sample": ["sample", "--data", bad, "--out", str(tmp_path / "p.jsonl"), "--model", "m",
                   "--base-url", "http://127.0.0.1:9/v1"],  # fmt: skip
        "serve": ["serve", bad, "--port", "9"],
        "train config": ["train", "--config", bad, "--check"],
        "train data": ["train", "--config", str(_job(tmp_path, training_file=bad)), "--check"],
        "train grader": ["train", "--config", str(_job(tmp_path, grader=bad)), "--check"],
    }


@pytest.mark.parametrize("kind", ["missing", "directory"])
@pytest.mark.parametrize(
    "command",
    ["validate", "grade", "check spec", "check data", "eval grader", "eval data", "eval predictions",
     "eval baseline", "compare", "sample", "serve", "train config", "train data", "train grader"],  # fmt: skip
)
def test_a_missing_file_or_a_directory_exits_2_with_one_line_naming_it(
    command: str, kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad_input"
    if kind == "directory":
        bad.mkdir()
        if command == "compare":  # a run directory is a directory: give a file where it belongs instead
            bad = tmp_path / "bad_input.txt"
            bad.write_text("not a run\n", encoding="utf-8")
    argv = _commands(str(bad), tmp_path)[command]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err, err
    assert "Traceback" not in err and "Errno" not in err, err


def test_an_interrupt_is_one_line_and_a_bug_keeps_its_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import evalkit.cli

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(evalkit.cli, "_compare", interrupted)
    assert main(["compare", "a", "b"]) == 130
    assert capsys.readouterr().err == "rftkit compare: interrupted\n"
    monkeypatch.setattr(evalkit.cli, "_sample", interrupted)
    assert main(["sample", "--data", "d", "--out", "o"]) == 130
    assert capsys.readouterr().err == "rftkit sample: interrupted; rerun the same command to resume\n"

    def bug(args: object) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(evalkit.cli, "_compare", bug)
    with pytest.raises(ZeroDivisionError):  # no exit code of its own: not turned into a neat line
        main(["compare", "a", "b"])


def test_an_os_error_without_a_file_is_a_failed_run() -> None:
    from rftkit._command import error_line, exit_code_of

    assert exit_code_of(ConnectionRefusedError(111, "Connection refused")) == 1
    missing = FileNotFoundError(2, "No such file or directory", "data/x.jsonl")
    assert (exit_code_of(missing), error_line(missing)) == (2, "data/x.jsonl: no such file or directory")
