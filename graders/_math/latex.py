"""Reading a math answer: pick it out of the output, normalise its LaTeX, split its structure.

The structure of an answer (tuple, interval, set, union, matrix, equation, ``\\pm``) is read
here with plain string scanning, so that the leaves handed to the expression parser (or to
sympy) are single expressions and the comparison of structures never needs sympy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graders._math.numbers import boxed_contents, fold

# Elements of one set, tuple or matrix; more is not a final answer.
MAX_ELEMENTS = 256
# Levels of nested structure (a set of tuples of intervals is 3); keeps recursion shallow.
MAX_STRUCTURE_DEPTH = 8

_BOX_TYPO = re.compile(r"\\beginboxed\s*\{")
_ANSWER_IS = re.compile(r"(?i)(?:final answer|the answer|answer)(?:\s*(?:is|:|=)\s*:?\s*|\s*(?=\$|\\\(|\\\[))")
# The cue is looked for in this many final characters, and its answer read from this many after it.
MAX_CUE_SCAN = 20_000
MAX_CUE_SPAN = 2_000
# Boxes read for a hedge or a set of answers: the last few.
MAX_BOXES = 32
_LEADING_DELIMITER = re.compile(r"\s*(\$|\\\(|\\\[)")
_JOINED = re.compile(r"\s*(?:,\s*)?or\b")
_CLAUSE = re.compile(r",?\s+(?:since|because|as|which|where)\s")
_BOLD = re.compile(r"\*\*(.+?)\*\*\.?")
_SENTENCE_END = re.compile(r"(?<=[^\s.])\.(?:\s|$)")
_PROSE_VERB = re.compile(r"\b(?:is|are|equals|was|be)\b")
_PROSE_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
_DELIMITER = re.compile(r"\$\$|\$|\\\(|\\\)|\\\[|\\\]")
_CLOSER = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}
_THOUSANDS = re.compile(r"(\d)(?:,\\!|\{,\}|,\\,)\s*(?=\d{3}(?!\d))")
_PLAIN_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_TEXT_CMD = re.compile(
    r"\\(?:text|textbf|textit|textrm|textsf|mbox|mathrm|mathbf|textnormal|operatorname)\s*\{([^{}]*)\}"
)
_UNIT_TAIL = re.compile(
    r"(?:(?<=[\d}])|(?<=[\d}]\s))\s*\\(?:text|textbf|textit|textrm|textsf|textnormal|mbox|mathrm)"
    r"\s*\{(?!\s*(?:or|and)\s*\})\s*[a-zA-Z][a-zA-Z ./]*\}(?:\^\{?\d\}?)?"  # a unit, not "\\text{ or }"
)
_PLAIN_UNIT = re.compile(r"(?<=\d)\s+([a-zA-Z]{2,})(?:\^\{?\d\}?)?\.?\s*$")
_DEGREES = re.compile(r"\^\s*(?:\{\s*\\circ\s*\}|\\circ)|\\circ|°|\\degree")  # not the space after it
_SPACING = re.compile(r"(\\\\)|\\[,!;: ]|~|\\(?:left|right|big|Big|bigl|bigr|Bigl|Bigr)(?![a-zA-Z])|\\displaystyle")
_RELATIONS = (
    ("\\leq", "<="), ("\\geq", ">="), ("\\le", "<="), ("\\ge", ">="), ("\\neq", "!="), ("\\ne", "!="),
    ("\\leqslant", "<="), ("\\geqslant", ">="), ("\\lt", "<"), ("\\gt", ">"), ("≤", "<="), ("≥", ">="),
    ("≠", "!="), ("\\in", " in "),
)  # fmt: skip
_WHITESPACE = re.compile(r"\s+")
# Symbols models print instead of their LaTeX commands (the space keeps "2π" from becoming "2\\pix").
_UNICODE_MATH = str.maketrans(
    {"∞": "\\infty ", "π": "\\pi ", "√": "\\sqrt ", "×": "\\times ", "·": "\\cdot ", "÷": "\\div ",
     "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne "}
)  # fmt: skip
_RELATION_PLAIN = dict(_RELATIONS)
# one pass for every spelling; longest first, so \\leq is not read as \\le followed by q
_RELATION = re.compile(
    "|".join(
        re.escape(k) + ("(?![a-zA-Z])" if k[0] == "\\" else "")
        for k in sorted(_RELATION_PLAIN, key=len, reverse=True)
    )
)
_REL_OPS = ("<=", ">=", "!=", " in ", "=", "<", ">")
_FUNCTION_WORDS = frozenset({"sqrt", "pi", "sin", "cos", "tan", "cot", "sec", "csc", "ln", "log", "exp"})


def extract_answers(text: str) -> tuple[list[str], bool]:
    """The final answers in a model output and whether one was marked: every ``\\boxed{}``
    (innermost, the last ``MAX_BOXES``), else what follows the last answer cue, else the last
    ``$...$`` math; else (unmarked) the whole text."""
    text = fold(text)
    if "beginboxed" in text:
        text = _BOX_TYPO.sub("\\\\boxed{", text)
    boxes = [b for b in boxed_contents(text)[-MAX_BOXES:] if "\\boxed" not in b and "\\fbox" not in b]
    if boxes:
        return boxes, True
    cued = after_cue(text)
    if cued is not None:
        return [cued], True
    shown = math_spans(text)
    if shown and len(text) > 40:
        start, end, _, _ = shown[-1]
        return [text[start:end]], True
    return [text], False


def after_cue(text: str) -> str | None:
    """What follows the last answer cue ("the answer is", "Final Answer:", "Answer $9$"): the math
    span right after it (also across a line break), else the rest of its sentence; a sentence
    that is prose ("The largest n is 34.") is read from its last "is"."""
    said = list(_ANSWER_IS.finditer(text[-MAX_CUE_SCAN:]))
    if not said:
        return None
    rest = text[-MAX_CUE_SCAN:][said[-1].end() :][:MAX_CUE_SPAN]
    lead = _LEADING_DELIMITER.match(rest)
    if lead is not None:
        spans = math_spans(rest[lead.start(1) :].replace("\\$", "\0\0"))  # \$ is a dollar sign, not math
        if spans:
            start, end, span_start, span_end = spans[0]
            joined = _JOINED.match(rest, lead.start(1) + span_end)  # "$3$ or $5$": read the whole sentence
            if span_start == 0 and joined is None:
                return rest[lead.start(1) + start : lead.start(1) + end]
    line = _SENTENCE_END.split(rest.split("\n", 1)[0], maxsplit=1)[0]
    line = _CLAUSE.split(line, maxsplit=1)[0]  # "12, since 5+7=12": the reason is not the answer
    bold = _BOLD.fullmatch(line.strip())
    if bold is not None:
        line = bold.group(1)  # markdown **12**
    plain = _unwrap_math(line)
    verb = list(_PROSE_VERB.finditer(plain))
    if verb and _PROSE_WORD.search(plain[: verb[-1].start()]):
        return plain[verb[-1].end() :]
    return line


def math_spans(text: str) -> list[tuple[int, int, int, int]]:
    """The ``$..$``, ``$$..$$``, ``\\(..\\)`` and ``\\[..\\]`` spans of ``text`` as (content
    start, content end, span start, span end), paired in one pass (a lazy regex would be
    quadratic on ``\\(`` repeated 10^5 times)."""
    spans: list[tuple[int, int, int, int]] = []
    opener: re.Match[str] | None = None
    for m in _DELIMITER.finditer(text):
        if opener is None:
            if m.group() in _CLOSER:
                opener = m
        elif m.group() == _CLOSER[opener.group()]:
            if m.start() > opener.end():
                spans.append((opener.end(), m.start(), opener.start(), m.end()))
            opener = None
    return spans


def _unwrap_math(text: str) -> str:
    spans = math_spans(text)
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for start, end, span_start, span_end in spans:
        out.append(text[pos:span_start])
        out.append(text[start:end])
        pos = span_end
    out.append(text[pos:])
    return "".join(out)


def balanced(text: str) -> bool:
    """Whether braces pair up (``{`` and ``}``; escaped ``\\{`` ``\\}`` count too)."""
    depth = 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


# The empty set written as braces: the same answer as \emptyset / \varnothing.
_EMPTY_SET_SPELLINGS = frozenset({"\\{\\}", "\\{ \\}", "\\left\\{\\right\\}"})


def normalize(text: str, *, plain_units: bool = False) -> str:
    """Canonical spelling of an answer: delimiters, spacing, ``\\dfrac``, degrees, units, ``$``.

    ``plain_units`` also drops a trailing word after a number (``10 cm``): for model output
    only, since in a reference ``5 ab`` may be a product.
    """
    s = fold(text).strip()
    # each pass runs only when its trigger is there: this is on the per-sample path
    if "$" in s or "\\(" in s or "\\[" in s:
        s = s.replace("\\$", "")  # a dollar amount, before $ is read as a math delimiter
        s = _unwrap_math(s).replace("$", "")
    command = "\\" in s
    if command:
        s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    if "," in s:
        s = _THOUSANDS.sub(r"\1", s)
    if command or "~" in s:
        s = _SPACING.sub(lambda m: m.group(1) or " ", s)
    if "circ" in s or "°" in s or "degree" in s:
        s = _DEGREES.sub("", s)
    if command:
        s = _UNIT_TAIL.sub("", s)
        s = _TEXT_CMD.sub(lambda m: m.group(1), s)
    if not s.isascii():
        s = s.translate(_UNICODE_MATH)
        command = "\\" in s
    if command:
        s = _RELATION.sub(lambda m: _RELATION_PLAIN[m.group()], s)
    if command:
        s = s.replace("\\%", "%").replace("\\mid", "|").replace("\\varnothing", "\\emptyset")
    s = _WHITESPACE.sub(" ", s).strip().rstrip(".").strip()
    if s in _EMPTY_SET_SPELLINGS:
        s = "\\emptyset"
    unit = _PLAIN_UNIT.search(s) if plain_units else None
    if unit is not None and unit.group(1) not in _FUNCTION_WORDS:
        s = s[: unit.start()].strip()
    return s


def key(text: str) -> str:
    """A spelling-insensitive key for the cheap string comparison."""
    return _WHITESPACE.sub("", text)


@dataclass(frozen=True, slots=True)
class Node:
    """One level of an answer's structure.

    ``kind`` is ``leaf`` (``text`` holds the expression), ``set`` (unordered: ``\\{..\\}``, a
    bare list, ``\\pm``), ``seq`` (ordered: tuples and intervals; ``open``/``close`` hold the
    brackets), ``union``, ``matrix`` (rows of cells) or ``rel`` (``op`` and two sides).
    """

    kind: str
    text: str = ""
    parts: tuple[Node, ...] = ()
    open: str = ""
    close: str = ""
    op: str = ""
    shape: tuple[int, ...] = ()


class StructureError(ValueError):
    """The answer's brackets or braces do not pair up."""


def _split_top(s: str, separators: tuple[str, ...]) -> list[str]:
    """``s`` split at separators outside every bracket pair."""
    if not any(sep in s for sep in separators):
        return [s]
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and s.startswith(("\\{", "\\}"), i):
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            for sep in separators:
                if s.startswith(sep, i):
                    parts.append(s[start:i])
                    i += len(sep)
                    start = i
                    break
            else:
                i += 1
            continue
        i += 1
    parts.append(s[start:])
    return parts


def _wraps(s: str) -> bool:
    """Whether the bracket at s[0] closes at s[-1] (any of ( [ pair with any of ) ])."""
    depth = 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i == len(s) - 1
    return False


_MATRIX = re.compile(r"^\\begin\{([pbvBV]?matrix|smallmatrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$", re.DOTALL)
_MATRIX_ENV = re.compile(
    r"\\begin\{(?P<name>[pbvBV]?matrix|smallmatrix|array)\}(?:\{[^{}]*\})?(?P<body>.*?)\\end\{(?P=name)\}", re.DOTALL
)
_MATRIX_COEF = re.compile(r"^\s*(?P<sign>[-+])?\s*(?P<coef>[^&]*?)\s*(?:\*|\\cdot|\\times)?\s*$", re.DOTALL)


def _rows(body: str) -> list[list[str]]:
    return [[c.strip() for c in row.split("&")] for row in (r.strip() for r in body.split("\\\\")) if row]


def matrix_sum(s: str) -> str | None:
    """A sum of scalar multiples of matrices (``2\\begin{pmatrix}..\\end{pmatrix} + ...``), or a
    matrix in brackets (``[\\begin{array}..\\end{array}]``), as one pmatrix of cell expressions."""
    envs = list(_MATRIX_ENV.finditer(s))
    if not envs or len(envs) > 8:
        return None
    if len(envs) == 1 and s[: envs[0].start()].strip() in "([" and s[envs[0].end() :].strip() in ")]":
        if envs[0].group(0) == s:
            return None  # a plain matrix: read as it is
        return envs[0].group(0)
    total: list[list[str]] | None = None
    pos = 0
    for k, env in enumerate(envs):
        lead = _MATRIX_COEF.match(s[pos : env.start()])
        if lead is None or (k > 0 and lead.group("sign") is None):
            return None
        sign, coef = lead.group("sign") or "+", lead.group("coef")
        if not balanced(coef):
            return None
        term = [[f"{sign}({coef})*({c})" if coef else f"{sign}({c})" for c in row] for row in _rows(env.group("body"))]
        if total is None:
            total = term
        elif [len(r) for r in total] != [len(r) for r in term]:
            return None
        else:
            total = [[f"{a}{b}" for a, b in zip(ra, rb, strict=True)] for ra, rb in zip(total, term, strict=True)]
        pos = env.end()
    if total is None or s[pos:].strip():
        return None
    return "\\begin{pmatrix}" + " \\\\ ".join(" & ".join(row) for row in total) + "\\end{pmatrix}"


_OR = re.compile(r"^\s*(?:(?:either|maybe|perhaps|possibly)\s+)?")


def alternatives(answer: str) -> list[str]:
    """The answers joined by "or" in ``answer`` ("3 or 5", "either 3 or 5", "1, 2, or 3"); a
    single answer is a list of one."""
    parts = _split_top(answer, (" or ",))
    if len(parts) == 1:
        return [answer]
    cleaned = [_OR.sub("", p).strip().rstrip(",").strip() for p in parts]
    if any(not p for p in cleaned):
        return [answer]
    return cleaned[:MAX_ELEMENTS]


_BOUND_SIDE = r"[^<>=!]+?"
_CHAIN = re.compile(
    rf"^(?P<lo>{_BOUND_SIDE})\s*(?P<lop><=|<)\s*(?P<var>[a-zA-Z])\s*(?P<hop><=|<)\s*(?P<hi>{_BOUND_SIDE})$"
)
_CHAIN_DOWN = re.compile(
    rf"^(?P<hi>{_BOUND_SIDE})\s*(?P<hop>>=|>)\s*(?P<var>[a-zA-Z])\s*(?P<lop>>=|>)\s*(?P<lo>{_BOUND_SIDE})$"
)
_ONE_BOUND = re.compile(rf"^(?P<a>{_BOUND_SIDE})\s*(?P<op><=|>=|<|>)\s*(?P<b>{_BOUND_SIDE})$")
_NOT_EQUAL = re.compile(rf"^(?P<a>{_BOUND_SIDE})\s*(?P<op>!=)\s*(?P<b>{_BOUND_SIDE})$")
_NAME_ONLY = re.compile(r"^[a-zA-Z]$")


def as_interval(text: str) -> str | None:
    """The interval an inequality on a bare variable describes (``-2 <= x < 7`` -> ``[-2, 7)``,
    ``x > 3`` -> ``(3, \\infty)``), or None for any other relation (the caller checks that the
    bounds are constants)."""
    text = text.strip()
    m = _CHAIN.match(text) or _CHAIN_DOWN.match(text)
    if m is not None:
        lo_open = "[" if m.group("lop") in ("<=", ">=") else "("
        hi_close = "]" if m.group("hop") in ("<=", ">=") else ")"
        lo, hi = m.group("lo").strip(), m.group("hi").strip()
        return None if lo == "" or hi == "" else f"{lo_open}{lo}, {hi}{hi_close}"
    m = _ONE_BOUND.match(text) or _NOT_EQUAL.match(text)
    if m is None:
        return None
    a, op, b = m.group("a").strip(), m.group("op"), m.group("b").strip()
    if _NAME_ONLY.match(b) and not _NAME_ONLY.match(a):
        a, b, op = b, a, {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "!=": "!="}[op]
    if not _NAME_ONLY.match(a):
        return None
    if op == "!=":
        return f"(-\\infty, {b}) \\cup ({b}, \\infty)"
    closed = "=" in op
    if op.startswith(">"):
        return f"{'[' if closed else '('}{b}, \\infty)"
    return f"(-\\infty, {b}{']' if closed else ')'}"


def interval_bounds(text: str) -> list[str]:
    """The bounds of the intervals ``as_interval`` made (for the constant check)."""
    return [
        bound.strip()
        for interval in _split_top(text, ("\\cup",))
        for bound in _split_top(interval.strip()[1:-1], (",",))
    ]


def structure(s: str, depth: int = 0) -> Node:
    """The structure of a normalised answer; raises StructureError for unbalanced brackets."""
    if depth > MAX_STRUCTURE_DEPTH:
        raise StructureError(f"structures nested over {MAX_STRUCTURE_DEPTH} deep")
    s = s.strip()
    inner = depth + 1
    if "\\begin" in s:
        combined = matrix_sum(s)
        if combined is not None:
            s = combined
    matrix = _MATRIX.match(s)
    if matrix is not None:
        cells = [[structure(c, inner) for c in row] for row in _rows(matrix.group(2))]
        if sum(len(r) for r in cells) > MAX_ELEMENTS:
            raise StructureError("matrix too large")
        width = {len(r) for r in cells}
        if len(width) > 1:
            raise StructureError("ragged matrix")
        flat = tuple(c for r in cells for c in r)
        return Node("matrix", parts=flat, shape=(len(cells), width.pop() if width else 0))
    union = _split_top(s, ("\\cup", "∪"))
    if len(union) > 1:
        return Node("union", parts=tuple(structure(p, inner) for p in _limit(union)))
    rel = _split_top(s, _REL_OPS)
    if len(rel) > 2 and len(_split_top(s, (",", ";"))) > 1:
        rel = [s]  # "x = 1, y = 2": a list of equations, split at the commas below
    if len(rel) > 1:
        ops = _top_ops(s)
        sides = [structure(p, inner) for p in _limit(rel)]
        if len(ops) == 1:
            return Node("rel", text=s, op=ops[0].strip(), parts=(sides[0], sides[1]))
        if all(op == "=" for op in ops):
            return Node("rel", text=s, op="=", parts=(sides[0], sides[-1]))  # a chain a = b = c
        return Node("leaf", text=s)
    if s.startswith("\\{") and s.endswith("\\}"):
        return Node("set", parts=_elements(_split_top(s[2:-2], (",", ";")), inner))
    if s[:1] in "([" and s[-1:] in ")]" and _wraps(s):
        elements = _split_top(s[1:-1], (",",))
        if len(elements) > 1:
            parts = tuple(structure(p, inner) for p in _limit(elements))
            return Node("seq", parts=parts, open=s[0], close=s[-1])
    if _PLAIN_THOUSANDS.fullmatch(s):
        return Node("leaf", text=s.replace(",", ""))
    items = _split_top(s, (",", ";"))
    if len(items) > 1:
        return Node("set", parts=_elements(items, inner))
    pm = _split_top(s, ("\\pm", "±"))
    if len(pm) == 2:
        a, b = pm[0].strip(), pm[1].strip()
        lo = f"{a}-({b})" if a else f"-({b})"
        hi = f"{a}+({b})" if a else f"{b}"
        return Node("set", parts=(Node("leaf", text=hi), Node("leaf", text=lo)), open="±")
    if not balanced(s.replace("\\{", "").replace("\\}", "")):
        raise StructureError("unbalanced braces")
    return Node("leaf", text=s)


def _elements(items: list[str], depth: int) -> tuple[Node, ...]:
    """The elements of a set; ``1 \\pm \\sqrt{5}`` inside a set is two of its elements."""
    out: list[Node] = []
    for item in _limit(items):
        node = structure(item, depth)
        out.extend(node.parts if node.kind == "set" and node.open == "±" else (node,))
    return tuple(out)


def _top_ops(s: str) -> list[str]:
    """The relation operators of ``s`` outside every bracket pair, in order."""
    ops: list[str] = []
    depth = 0
    i = 0
    while i < len(s):
        ch = s[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            op = next((op for op in _REL_OPS if s.startswith(op, i)), None)
            if op is not None:
                ops.append(op)
                i += len(op)
                continue
        i += 1
    return ops


def _limit(parts: list[str]) -> list[str]:
    if len(parts) > MAX_ELEMENTS:
        raise StructureError(f"more than {MAX_ELEMENTS} elements")
    if any(not p.strip() for p in parts):
        raise StructureError("empty element")
    return parts
