"""The self-contained HTML report (filled in below)."""

from __future__ import annotations

import html

from evalkit._result import EvalResult


def eval_page(result: EvalResult) -> str:
    """The HTML page of one run."""
    return f"<!doctype html><title>{html.escape(str(result.config.get('items')))}</title>"
