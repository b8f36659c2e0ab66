"""Datasets and predictions: ids, bad lines, id mismatches, the streaming join."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evalkit import DatasetError, IdMismatchError, evaluate, read_jsonl
from graders import Grader


def test_read_jsonl_streams_objects_and_skips_blank_lines(tmp_path: Path, write_jsonl: Any) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"a": 1}, "", "  ", {"a": 2}])
    assert [r["a"] for r in read_jsonl(path)] == [1, 2]


@pytest.mark.parametrize(
    ("line", "reason"),
    [("{not json", "not valid JSON"), ("[1, 2]", "expected a JSON object, got list"), ('"x"', "got str")],
    ids=["broken", "array", "string"],
)
def test_bad_line_names_file_and_line(tmp_path: Path, write_jsonl: Any, line: str, reason: str) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"a": 1}, "", line])
    with pytest.raises(DatasetError) as info:
        list(read_jsonl(path))
    assert info.value.line == 3
    assert str(info.value).startswith(f"{path}:3: ")
    assert reason in str(info.value)


def test_invalid_utf8_is_a_dataset_error(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n')
    with pytest.raises(DatasetError, match=r":2: not valid JSON"):
        list(read_jsonl(path))


def test_bad_line_stops_before_any_grading(tmp_path: Path, write_jsonl: Any, exact: Grader) -> None:
    class Counting(Grader):
        graded = 0

        def _grade(self, sample, item):  # type: ignore[no-untyped-def]
            Counting.graded += 1
            return exact._grade(sample, item)

    grader = Counting(exact.spec)
    items = write_jsonl(tmp_path / "items.jsonl", [{"id": i, "answer": "x"} for i in range(5)] + ["oops"])
    preds = write_jsonl(tmp_path / "preds.jsonl", [{"id": i, "output_text": "x"} for i in range(5)])
    with pytest.raises(DatasetError, match=r"items.jsonl:6: "):
        evaluate(grader, items, preds, out=tmp_path / "run")
    assert Counting.graded == 0
    assert not (tmp_path / "run" / "scores.jsonl").exists()


def test_skip_bad_counts_lines_and_keeps_ids_stable(tmp_path: Path, write_jsonl: Any, exact: Grader) -> None:
    # No id field: ids are positions, and a skipped line keeps its position.
    items = write_jsonl(tmp_path / "items.jsonl", [{"answer": "a"}, "{broken", {"answer": "c"}])
    preds = write_jsonl(
        tmp_path / "preds.jsonl", [{"id": 0, "output_text": "a"}, {"id": "2", "output_text": "c"}, "[]"]
    )
    result = evaluate(exact, items, preds, skip_bad=True)
    assert result.metrics["n"] == 2 and result.metrics["mean"] == 1.0
    assert [i.id for i in result.items] == ["0", "2"]
    assert result.config["skipped_lines"] == {str(items): [2], str(preds): [3]}
    assert result.config["skipped"] == {str(items): 1, str(preds): 1}


def test_duplicate_item_id_is_an_error(tmp_path: Path, write_jsonl: Any, exact: Grader) -> None:
    items = write_jsonl(tmp_path / "items.jsonl", [{"id": "a"}, {"id": "b"}, {"id": "a"}])
    with pytest.raises(DatasetError, match=r"items.jsonl:3: duplicate id 'a' \(first at line 1\)"):
        evaluate(exact, items, [])


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"output_text": "x"}, "has no 'id'"),
        ({"id": 0, "text": "x"}, "has none of output_text"),
        ({"id": 1.5, "output_text": "x"}, "'id' must be a string or an integer"),
    ],
    ids=["no-id", "no-output", "float-id"],
)
def test_bad_prediction_line(tmp_path: Path, write_jsonl: Any, exact: Grader, row: dict, reason: str) -> None:
    preds = write_jsonl(tmp_path / "preds.jsonl", [{"id": 0, "output_text": "x"}, row])
    with pytest.raises(DatasetError, match=r"preds.jsonl:2: ") as info:
        evaluate(exact, [{"answer": "x"}], preds)
    assert reason in str(info.value)


def test_mismatched_ids_give_counts_and_examples(tmp_path: Path, exact: Grader) -> None:
    items = [{"id": f"item{i}", "answer": "x"} for i in range(10)]
    preds = [{"id": f"item{i}", "output_text": "x"} for i in range(3)]
    preds += [{"id": f"other{i}", "output_text": "x"} for i in range(8)]
    with pytest.raises(IdMismatchError) as info:
        evaluate(exact, items, preds)
    message = str(info.value)
    assert info.value.unknown == 8 and info.value.missing == 7
    assert "8 prediction id(s) match no item (e.g. 'other0', 'other1', 'other2', 'other3', 'other4')" in message
    assert "7 item(s) have no prediction (e.g. 'item3'" in message


def test_generators_stream_and_out_of_order_predictions_join(exact: Grader) -> None:
    items = ({"id": i, "answer": str(i)} for i in range(6))
    order = [3, 0, 1, 2, 5, 4]
    preds = ({"id": i, "output_text": str(i) if i % 2 else "no"} for i in order)
    result = evaluate(exact, items, preds)
    assert [i.id for i in result.items] == [str(i) for i in range(6)]
    assert [i.value for i in result.items] == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]


def test_generator_with_unknown_id_raises_after_the_stream(exact: Grader) -> None:
    items = ({"id": i, "answer": "x"} for i in range(2))
    preds = ({"id": i, "output_text": "x"} for i in (0, 1, 7))
    with pytest.raises(IdMismatchError, match=r"1 prediction id\(s\) match no item \(e.g. '7'\)"):
        evaluate(exact, items, preds)


def test_int_and_string_ids_match(exact: Grader) -> None:
    result = evaluate(exact, [{"id": 7, "answer": "x"}], [{"id": "7", "output_text": "x"}])
    assert result.items[0].id == "7" and result.metrics["mean"] == 1.0
