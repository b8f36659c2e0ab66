"""list_rank: rank to score by each decay, list reading, normalisation, the max_items guard."""

from __future__ import annotations

from typing import Any

import pytest
from graders_cases import check_case, load_cases

from graders import SpecError, compile_spec


@pytest.mark.parametrize("case", load_cases("test_list_rank"))
def test_documented_semantics(case: dict[str, Any]) -> None:
    check_case(case)


@pytest.mark.parametrize(("decay", "needs"), [("table", "table"), ("linear", "k"), ("exponential", "base")])
def test_decay_without_its_parameter_is_a_spec_error(decay: str, needs: str) -> None:
    spec = {"type": "list_rank", "input": "{{sample.output_text}}", "reference": "{{item.a}}", "decay": decay}
    with pytest.raises(SpecError, match=f"needs the field '{needs}'"):
        compile_spec(spec)
