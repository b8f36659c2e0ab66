"""docs/api.md agrees with the code: the error-flag table is ``graders.HOSTED_ERROR_FLAGS`` and the
command line shown parses. (tests/test_doc_snippets.py runs the page's Python snippets.)"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from graders import HOSTED_ERROR_FLAGS
from rl_adapter._api.cli import _parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_the_flag_table_is_the_one_in_graders() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("<!-- flags:start -->") : text.index("<!-- flags:end -->")]
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| (`\w+`|-) \|$", table, re.MULTILINE)
    assert [(kind, flag, field.strip("`") if field != "-" else None) for kind, flag, field in rows] == [
        (str(kind), flag, detail) for kind, (flag, detail) in HOSTED_ERROR_FLAGS.items()
    ]


def test_the_command_line_shown_parses() -> None:
    (command,) = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("rftkit api ")]
    args = _parser("api").parse_args(shlex.split(command)[2:])
    assert (args.host, args.port, args.workdir) == ("127.0.0.1", 8000, "rftkit-api")
