"""The public surface of every package, pinned by one rule: `__all__` is sorted, lists every
public name a package facade defines (nothing leaks by accident), and every listed name resolves.

Implementation modules that declare `__all__` (the client, the fake server) keep helpers at module
level, so for them only the listed names are checked.
"""

from __future__ import annotations

import importlib
import types

import pytest

# (module, is a package facade whose every public name must be listed)
MODULES = [
    ("graders", True),
    ("graders.testing", True),
    ("evalkit", True),
    ("rl_adapter", True),
    ("graders.client", False),
    ("graders.testing.openai_server", False),
]


def _public_names(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }


@pytest.mark.parametrize(("name", "facade"), MODULES, ids=[name for name, _ in MODULES])
def test_all_is_sorted_complete_and_resolves(name: str, facade: bool) -> None:
    module = importlib.import_module(name)
    public = _public_names(module)
    listed = module.__all__
    assert listed == sorted(listed), f"{name}.__all__ is not sorted"
    assert len(set(listed)) == len(listed), f"{name}.__all__ lists a name twice"
    if facade:
        assert not public - set(listed), f"{name} exports names missing from __all__: {sorted(public - set(listed))}"
        lazy = set(listed) - public  # names a module-level __getattr__ loads on first use
        assert not lazy or hasattr(module, "__getattr__"), f"{name}.__all__ lists undefined names: {sorted(lazy)}"
    unresolved = [n for n in listed if getattr(module, n, None) is None]
    assert not unresolved, f"{name}.__all__ lists names that do not resolve: {unresolved}"
