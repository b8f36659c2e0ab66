"""A circuit breaker for one model server: a dead endpoint fails the rest of a batch at once.

Without it, every call of a batch spends its whole retry schedule on a server that is not
there: with the defaults (120 s per attempt, 8 at a time) 1,024 judge calls to a host that never
answers took about 4.3 hours to turn into error scores. After ``threshold`` failed attempts in a
row, the breaker opens: calls fail at once with ``connection_error`` for ``cooldown_s``. Then
calls go through again, and one more failure opens it again.

What counts as failed: an attempt that could not connect, or got no answer within the timeout
(a blackholed host, a hung server). A server that answers, even with an error, is there.
"""

from __future__ import annotations

import logging

log = logging.getLogger("graders.client")

# One failed wave of the default 8 concurrent calls: enough that a single refused connection
# (a restart, a blip) never opens it, few enough that a dead server costs one round of attempts.
DEFAULT_THRESHOLD = 8
# Long enough to fail a whole batch at once, short enough that a server back up is used again.
DEFAULT_COOLDOWN_S = 30.0


class CircuitBreaker:
    """Counts consecutive unanswered attempts to one server; used only on the client's I/O loop."""

    def __init__(self, url: str, threshold: int | None = None, cooldown_s: float | None = None) -> None:
        self.url = url
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        self.cooldown_s = DEFAULT_COOLDOWN_S if cooldown_s is None else cooldown_s
        self.failures = 0
        self.tripped = False  # opened since the last success: said once in the log
        self._open_until: float | None = None

    def refusal(self, now: float) -> str | None:
        """Why a call must fail at once (the breaker is open), or None when it may go through."""
        if self._open_until is None:
            return None
        if now >= self._open_until:
            self._open_until = None
            self.failures = self.threshold - 1  # one more failure opens it again
            return None
        return (
            f"cannot reach {self.url}: {self.failures} attempts in a row got no answer, "
            f"not trying again for {self._open_until - now:.0f} s"
        )

    def record(self, unanswered: bool, now: float) -> None:
        """Counts one attempt's outcome; opens the breaker (and says so once) at the threshold."""
        if not unanswered:
            if self.tripped:
                log.warning("%s answers again; model calls resume", self.url)
            self.failures, self.tripped, self._open_until = 0, False, None
            return
        self.failures += 1
        if self.failures >= self.threshold and self._open_until is None:
            self._open_until = now + self.cooldown_s
            if self.tripped:
                return  # still down after the cooldown: already said
            self.tripped = True
            log.warning(
                "%s: %d attempts in a row got no answer; failing the remaining model calls at once for %g s",
                self.url, self.failures, self.cooldown_s,
            )  # fmt: skip
