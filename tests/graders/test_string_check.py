"""string_check: the hosted API's eq / ne / like / ilike, exactly as documented."""

from __future__ import annotations

from typing import Any

import pytest
from graders_cases import check_case, load_cases


@pytest.mark.parametrize("case", load_cases("test_string_check"))
def test_documented_semantics(case: dict[str, Any]) -> None:
    check_case(case)
