"""A progress bar on stderr for long runs: silent for the first second, then redrawn in place."""

from __future__ import annotations

import sys
import time
from typing import TextIO

# Short runs print nothing: a bar that flashes for 0.2 s is noise.
SHOW_AFTER_S = 1.0
# Redraw at most this often on a terminal (cheap, smooth enough to read).
REDRAW_S = 0.2
# When stderr is a file or pipe (CI logs), one line every this many seconds instead of redraws.
LOG_EVERY_S = 10.0
BAR_WIDTH = 24


class Progress:
    """Counts finished items and draws ``label  done/total [####....]  rate  ETA`` on ``stream``."""

    def __init__(
        self, total: int | None, *, enabled: bool = True, label: str = "grading", stream: TextIO | None = None
    ) -> None:
        self.total = total
        self.enabled = enabled
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self._start = time.monotonic()
        self._last = 0.0
        self._drawn = False
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def update(self, count: int = 1) -> None:
        """Adds ``count`` finished items and redraws when due."""
        self.done += count
        if not self.enabled:
            return
        now = time.monotonic()
        elapsed = now - self._start
        if elapsed < SHOW_AFTER_S or now - self._last < (REDRAW_S if self._tty else LOG_EVERY_S):
            return
        self._last = now
        self._draw(elapsed)

    def _draw(self, elapsed: float) -> None:
        rate = self.done / elapsed if elapsed > 0 else 0.0
        text = f"{self.label} {self.done:,}"
        if self.total:
            share = min(1.0, self.done / self.total)
            filled = int(share * BAR_WIDTH)
            text += f"/{self.total:,} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:6.1%}"
            if rate > 0:
                text += f"  ETA {_duration((self.total - self.done) / rate)}"
        text += f"  {rate:,.0f} items/s"
        self.stream.write(("\r" + text + "\x1b[K") if self._tty else text + "\n")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Draws the final state (when anything was drawn) and ends the line."""
        if self.enabled and self._drawn:
            self._draw(time.monotonic() - self._start)
            if self._tty:
                self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
