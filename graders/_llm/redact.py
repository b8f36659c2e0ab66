"""Secrets out of every message rftkit stores or logs.

A server can echo what it was sent: an error body that quotes the API key, or a completion
that repeats the request headers. Those texts become ``Score.error.message``, judge details,
cache rows and log lines, so the key is removed from them before they are kept anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"
# Shorter "secrets" (a placeholder such as "x") would redact ordinary words out of messages.
MIN_SECRET_CHARS = 8
# An Authorization value, in a header dump, a JSON body or a repr: the scheme is kept, the credential is not.
_AUTHORIZATION = re.compile(
    r"""(?i)(authorization['"]?\s*[:=]\s*['"]?\s*)(?:(bearer|basic|token)\s+)?[^\s'",;}]+"""
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every one of ``secrets`` and every Authorization or Bearer value replaced.

    Example:
        >>> redact("bad key sk-abc12345xyz; Authorization: Bearer sk-abc12345xyz", ["sk-abc12345xyz"])
        'bad key [redacted]; Authorization: Bearer [redacted]'
    """
    for secret in secrets:
        if not secret or len(secret) < MIN_SECRET_CHARS:
            continue
        if secret in text:
            text = text.replace(secret, REDACTED)
        text = _without_cut_secret(text, secret)
    if "uthorization" in text or "UTHORIZATION" in text:
        text = _AUTHORIZATION.sub(_keep_scheme, text)
    if "earer" in text or "EARER" in text:
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return text


def _without_cut_secret(text: str, secret: str) -> str:
    """A message cut to a length can end halfway through the secret: that half goes too."""
    for n in range(len(secret) - 1, MIN_SECRET_CHARS - 1, -1):
        if text.endswith(secret[:n]):
            return text[:-n] + REDACTED
    return text


def _keep_scheme(match: re.Match[str]) -> str:
    scheme = f"{match.group(2)} " if match.group(2) else ""
    return f"{match.group(1)}{scheme}{REDACTED}"
