"""Nothing outlives the grader: working directories after a kill -9, processes after close()."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from graders import PythonGrader, SandboxLimits

CASES_SPEC = {"type": "python", "name": "cases", "source": (Path(__file__).parent / "python_cases.py").read_text()}
ROOT = Path(__file__).resolve().parents[2]


def gone(pid: int, within_s: float = 10.0) -> bool:
    """Whether ``pid`` ends (or is a zombie no one reaped yet) within the time."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_bytes()
        except OSError:
            return True
        if stat[stat.rfind(b")") + 2 :].startswith(b"Z"):
            return True
        time.sleep(0.05)
    return False


def test_directories_of_a_killed_caller_are_removed_by_the_next_one() -> None:
    script = (
        "import json, os, signal, sys\n"
        "from graders import PythonGrader\n"
        "g = PythonGrader({'type': 'python', 'source': 'def grade(s, i):\\n    return 1.0\\n'}, workers=2)\n"
        "g.grade_batch(['x'] * 4)\n"
        "print(json.dumps([w.workdir for w in g.pool._all]), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == -signal.SIGKILL, out.stderr
    left = [Path(d) for d in json.loads(out.stdout)]
    assert len(left) == 2 and all(d.is_dir() for d in left)  # what issue 14 found
    ours = Path(tempfile.mkdtemp(prefix=f"rftkit-python-{os.getpid()}-"))  # a live owner's
    try:
        with PythonGrader(CASES_SPEC, workers=1) as grader:
            assert grader.grade("x", {"case": "ok"}).value == 1.0
        assert not any(d.exists() for d in left)
        assert ours.is_dir()
    finally:
        ours.rmdir()


def test_a_process_in_its_own_session_dies_with_the_grader(tmp_path: Path) -> None:
    # Without namespaces (confine=False) user code may fork; setsid takes the grandchild out
    # of the worker's process group, which is what close() used to kill.
    pid_file = tmp_path / "daemon.pid"
    limits = SandboxLimits(timeout_s=20.0, confine=False)
    with PythonGrader(CASES_SPEC, limits=limits, workers=1) as grader:
        score = grader.grade("x", {"case": "daemon_process", "path": str(pid_file)})
        assert score.error is None, score
        daemon = int(pid_file.read_text())
    survived = not gone(daemon)
    if survived:
        os.kill(daemon, signal.SIGKILL)
    assert not survived
