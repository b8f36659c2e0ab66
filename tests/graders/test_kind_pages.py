"""docs/kinds/ is what `python -m graders.docs` generates from the spec models: one page per kind."""

from __future__ import annotations

from pathlib import Path

from graders import kinds
from graders.docs import kind_pages, main

ROOT = Path(__file__).parents[2]
PAGES = ROOT / "docs" / "kinds"


def test_kind_pages_are_in_sync() -> None:
    """Regenerate the pages when a spec model's docstring, fields or example changes."""
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in PAGES.glob("*.md")}
    assert on_disk == kind_pages(), "run: python -m graders.docs"


def test_every_kind_has_a_page_linked_from_the_readme_and_the_index() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    index = kind_pages()["index.md"]
    for kind in kinds():
        assert f"(docs/kinds/{kind}.md)" in readme, kind
        assert f"[`{kind}`]({kind}.md)" in index, kind


def test_a_page_shows_the_docstring_the_fields_and_the_example() -> None:
    page = kind_pages()["list_rank.md"]
    assert page.startswith("# `list_rank`\n")
    assert "An rftkit kind" in page
    # the docstring, with rST literals turned into Markdown ones
    assert "`max_items` closes the loophole" in page and "``max_items``" not in page
    assert "| `max_items` | integer (>= 1) or null | `null` | lists longer than this score 0 |" in page
    assert "| `input` | string | required |" in page
    assert '"decay": "exponential"' in page  # the schema example
    hosted = kind_pages()["string_check.md"]
    assert "A kind of the hosted OpenAI graders API" in hosted
    assert '`"eq"` or `"ne"` or `"like"` or `"ilike"`' in hosted


def test_nested_models_get_their_own_table_and_child_graders_a_link() -> None:
    pages = kind_pages()
    assert "### FieldRule" in pages["field_match.md"]
    assert "[FieldRule](#fieldrule)" in pages["field_match.md"]
    assert "### Message" in pages["score_model.md"] and "### SamplingParams" in pages["score_model.md"]
    assert "| `graders` | object of a grader spec (any kind) |" in pages["multi.md"]


def test_the_command_writes_checks_and_removes_stale_pages(tmp_path: Path) -> None:
    assert main(["--check", str(tmp_path)]) == 1
    (tmp_path / "retired_kind.md").write_text("old")
    assert main([str(tmp_path)]) == 0
    assert not (tmp_path / "retired_kind.md").exists()
    assert sorted(p.name for p in tmp_path.glob("*.md")) == sorted(kind_pages())
    assert main(["--check", str(tmp_path)]) == 0
    (tmp_path / "math.md").write_text("edited by hand")
    assert main(["--check", str(tmp_path)]) == 1
