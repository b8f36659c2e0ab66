"""What a caller killed with ``kill -9`` leaves behind, found by the owner pid in its name.

Working directories and cgroups are named ``<prefix><owner pid>-<unique>``, so the next
process that starts a worker can remove the ones whose owner no longer runs.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile

WORKDIR_PREFIX = "rftkit-python-"


def owned_prefix(prefix: str) -> str:
    """The start of a name that this process owns."""
    return f"{prefix}{os.getpid()}-"


def owner_gone(name: str, prefix: str) -> bool:
    """Whether ``name`` was made by a process that no longer runs.

    A live owner, a pid reused since (the safe mistake), or a name of another shape: False.
    """
    owner = name[len(prefix) :].split("-", 1)[0]
    if not name.startswith(prefix) or not owner.isdigit():
        return False
    try:
        os.kill(int(owner), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # someone else's process
    return False


def sweep_stale_workdirs() -> list[str]:
    """Removes this user's working directories whose owner is gone; the ones removed."""
    root = tempfile.gettempdir()
    removed: list[str] = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        if not owner_gone(name, WORKDIR_PREFIX):
            continue
        path = os.path.join(root, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
