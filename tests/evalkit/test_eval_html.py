"""The HTML report opened in real headless Chromium: the screenshot must show every plot.

Each plot kind has its own colour (evalkit._html); the test counts pixels of exactly that colour
in the screenshot, and checks a page without those plots has none of them (so the count is not
vacuous). Chromium is a test dependency (Debian package ``chromium``; .ci/run installs it).
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from evalkit import compare, evaluate, read_jsonl, write_reports
from evalkit._html import COMPARISON_COLOR, DISTRIBUTION_COLOR, GROUP_COLOR, TOPK_COLOR
from graders import Grader

ROOT = Path(__file__).resolve().parents[2]
GENES = ROOT / "examples" / "data" / "gene_ranking"
# A cold Chromium start on a loaded 2-core machine takes seconds; this only catches a hang.
BROWSER_TIMEOUT_S = 120
# Pixels of a plot's colour needed to call it rendered: a bar or a dot is hundreds of pixels.
MIN_PIXELS = 200
pytestmark = pytest.mark.slow


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("chromium is not installed; the HTML report test needs it: apt-get install -y chromium")


def _screenshot(page: Path, tmp_path: Path) -> np.ndarray:
    shot = tmp_path / f"{page.stem}.png"
    command = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
        "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,3200",
        f"--screenshot={shot}", page.resolve().as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S, check=False)
    assert shot.exists(), f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    return _decode_png(shot.read_bytes())


def _count(image: np.ndarray, color: str) -> int:
    rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    return int((image == rgb).all(axis=2).sum())


def test_report_page_renders_every_plot(tmp_path: Path, exact: Grader) -> None:
    def sex(report: str) -> str:
        return "male" if report.startswith("A male") else "female" if report.startswith("A female") else "unreported"

    items = [dict(row, sex=sex(row["case_report"])) for row in read_jsonl(GENES / "valid.jsonl")]
    spec = ROOT / "specs" / "gene_rank.json"
    base = evaluate(spec, items, GENES / "baseline_predictions_valid.jsonl", by="sex")
    worse = []  # the baseline with its first gene moved to the end: a second run on the same items
    for row in read_jsonl(GENES / "baseline_predictions_valid.jsonl"):
        genes = json.loads(row["output_text"])["genes"]
        worse.append({"id": row["id"], "output_text": json.dumps({"genes": genes[1:] + genes[:1]})})
    other = evaluate(spec, items, worse, by="sex")
    write_reports(other, tmp_path / "full", compare(base, other))
    image = _screenshot(tmp_path / "full" / "report.html", tmp_path)
    counts = {name: _count(image, color) for name, color in [
        ("distribution", DISTRIBUTION_COLOR), ("top@k", TOPK_COLOR), ("groups", GROUP_COLOR),
        ("comparison", COMPARISON_COLOR)]}  # fmt: skip
    assert all(n >= MIN_PIXELS for n in counts.values()), counts

    plain = evaluate(
        exact, [{"answer": "a"}, {"answer": "b"}], [{"id": 0, "output_text": "a"}, {"id": 1, "output_text": "a"}]
    )
    write_reports(plain, tmp_path / "plain")
    image = _screenshot(tmp_path / "plain" / "report.html", tmp_path)
    assert _count(image, DISTRIBUTION_COLOR) >= MIN_PIXELS
    assert _count(image, TOPK_COLOR) == _count(image, GROUP_COLOR) == _count(image, COMPARISON_COLOR) == 0


def _decode_png(data: bytes) -> np.ndarray:
    """RGB pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, header = 8, [], (0, 0, 0, 0, 0, 0, 0)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0 and color in (2, 6), f"unsupported PNG {header}"
    bpp = 3 if color == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(chunks)), dtype=np.uint8).reshape(height, width * bpp + 1)
    out = np.zeros((height, width * bpp), dtype=np.int64)
    prev = np.zeros(width * bpp, dtype=np.int64)
    for y in range(height):
        kind, line = int(raw[y, 0]), raw[y, 1:].astype(np.int64)
        if kind == 0:
            row = line
        elif kind == 1:  # Sub: a running sum per channel
            row = np.cumsum(line.reshape(width, bpp), axis=0).reshape(-1) % 256
        elif kind == 2:  # Up
            row = (line + prev) % 256
        else:  # Average and Paeth depend on the byte to the left: decode byte by byte
            row = _unfilter(kind, line.tolist(), prev.tolist(), bpp)
        out[y] = row
        prev = np.asarray(row, dtype=np.int64)
    return out.reshape(height, width, bpp)[:, :, :3]


def _unfilter(kind: int, line: list[int], prev: list[int], bpp: int) -> np.ndarray:
    row = list(line)
    for x in range(len(row)):
        left = row[x - bpp] if x >= bpp else 0
        up = prev[x]
        if kind == 3:
            row[x] = (row[x] + (left + up) // 2) % 256
            continue
        upleft = prev[x - bpp] if x >= bpp else 0
        p = left + up - upleft
        pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
        row[x] = (row[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else upleft)) % 256
    return np.asarray(row, dtype=np.int64)


def test_missing_chromium_fails_with_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        _chromium()
