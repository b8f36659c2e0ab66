"""rftkit's pytest plugin (registered through the ``pytest11`` entry point).

It adds one fixture, ``grader_properties``: ``assert_grader_properties`` from
``graders.testing``. The module imports nothing but pytest, so every pytest run of a user who
has rftkit installed stays as fast as before; graders and hypothesis load only when a test asks
for the fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def grader_properties() -> Callable[..., None]:
    """``graders.testing.assert_grader_properties``, for tests that check users' graders.

    Example:
        >>> def test_my_grader(grader_properties):          # doctest: +SKIP
        ...     grader_properties("specs/my_grader.json", items=rows)
    """
    from graders.testing import assert_grader_properties

    def check(grader: Any, items: Any = None, **options: Any) -> None:
        if isinstance(grader, str):
            from graders import load_spec

            with load_spec(grader) as compiled:
                return assert_grader_properties(compiled, items, **options)
        return assert_grader_properties(grader, items, **options)

    return check
