"""Equivalence of two math answers: structure first, then each leaf by the cheapest sure test.

Leaf tests, in order: the normalised strings are equal; both parse in the fast path
(``graders._math.expr``) and their exact rational values, or their values at fixed test points,
agree; a text answer (``\\text{Evelyn}``, ``odd n``) compares as case-folded text; otherwise sympy
(through latex2sympy2_extended, imported on first use) decides ``simplify(a - b) == 0`` in the
deadline worker. Before sympy sees a leaf, its size, nesting and number sizes are checked,
since sympy happily computes ``2003^{2002^{2001}}`` for ever.
"""

from __future__ import annotations

import cmath
import functools
import re
import threading
import time
from fractions import Fraction
from typing import Any

from graders._math.deadline import DeadlineExceeded, run_with_deadline
from graders._math.expr import (
    TextAnswer,
    TooLarge,
    Undefined,
    Unsupported,
    close,
    environments,
    exact,
    numeric,
    parse,
    strip_percent,
    variables,
)
from graders._math.latex import Node, StructureError, as_interval, interval_bounds, structure
from graders._math.options import rounded

# Leaves longer than this never reach sympy: no final answer is that long, parsing it is slow.
MAX_SYMBOLIC_CHARS = 600
# Brace nesting allowed in a leaf sent to sympy (its parser recurses per level).
MAX_SYMBOLIC_NESTING = 20
# Digits of a number literal sent to sympy.
MAX_SYMBOLIC_DIGITS = 100
# a^{b^c} or a^b^c: sympy would evaluate the tower exactly (2003^{2002^{2001}} never ends)
_POWER_TOWER = re.compile(r"\^\s*\{[^{}]*\^|\^\s*\w+\s*\^")
# Powers in one leaf sent to sympy; answers have a few, x^x^x^... is an attack.
MAX_SYMBOLIC_POWERS = 8
_BIG_EXPONENT = re.compile(r"\^\s*\{?\s*(\d{4,})")  # x^{12345}: expanding it is unbounded work
_LONG_NUMBER = re.compile(rf"\d{{{MAX_SYMBOLIC_DIGITS + 1},}}")
_BIG_FACTORIAL = re.compile(r"\d{5,}\s*!|\}\s*!")  # 99999! (or (..)! of an expression)


class LimitExceeded(Exception):
    """An answer is beyond the size limits of the comparison."""


class Comparison:
    """One comparison: its deadline (for all of its work, so a 256-element set of symbolic
    leaves cannot add up to minutes) and how it was decided."""

    __slots__ = ("deadline", "methods", "precision", "relations")

    def __init__(self, timeout: float, *, relations: str = "bounds", precision: int | None = None) -> None:
        self.deadline = time.monotonic() + timeout
        self.methods: set[str] = set()
        self.relations = relations
        self.precision = precision

    def remaining(self) -> float:
        """Seconds left; raises DeadlineExceeded when none are."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("the comparison ran out of time")
        return left

    def equal(self, gold: Node, pred: Node) -> bool:
        """Whether ``pred`` answers ``gold``; raises LimitExceeded or DeadlineExceeded."""
        if self.relations == "bounds":
            gold, pred = self._interval(gold, pred), self._interval(pred, gold)
        if gold.kind == "rel" and pred.kind != "rel":
            side = _named_side(gold)
            return side is not None and self.equal(side, pred)
        if pred.kind == "rel" and gold.kind != "rel":
            side = _named_side(pred)
            if side is None and pred.op == "=" and self.equal(*pred.parts):
                side = pred.parts[1]  # a true chain "2+3 = 5" answers 5; a false "5 = 3" answers nothing
            return side is not None and self.equal(gold, side)
        if gold.kind != pred.kind:
            return False
        if gold.kind == "leaf":
            return self.leaf(gold.text, pred.text)
        if gold.kind == "rel":
            return self.relation(gold, pred)
        if len(gold.parts) != len(pred.parts):
            return False
        if gold.kind in ("set", "union"):
            return self.unordered(gold.parts, pred.parts)
        if gold.kind == "seq" and (gold.open, gold.close) != (pred.open, pred.close):
            return False
        if gold.kind == "matrix" and gold.shape != pred.shape:
            return False
        return all(self.equal(g, p) for g, p in zip(gold.parts, pred.parts, strict=True))

    def _interval(self, node: Node, other: Node) -> Node:
        """``node`` as the interval it bounds, when ``other`` is an interval and ``node`` an
        inequality of a bare variable with constant bounds (so an echoed ``x^2 < 4`` stays a relation)."""
        if other.kind not in ("seq", "union") or node.kind not in ("rel", "leaf") or not node.text:
            return node
        written = as_interval(node.text)
        if written is None:
            return node
        for bound in interval_bounds(written):
            tree = _parsed(bound)
            if not isinstance(tree, tuple) or variables(tree):
                return node
        try:
            return structure(written)
        except StructureError:
            return node

    def unordered(self, gold: tuple[Node, ...], pred: tuple[Node, ...]) -> bool:
        left = list(pred)
        for g in gold:
            self.remaining()
            for i, p in enumerate(left):
                if self.equal(g, p):
                    del left[i]
                    break
            else:
                return False
        return True

    def relation(self, gold: Node, pred: Node) -> bool:
        g_op, g_l, g_r = _oriented(gold)
        p_op, p_l, p_r = _oriented(pred)
        if g_op != p_op:
            return False
        if g_l.kind == p_l.kind == g_r.kind == p_r.kind == "leaf":
            verdict = _proportional(g_l.text, g_r.text, p_l.text, p_r.text, positive=g_op != "=")
            if verdict is not None:
                self.methods.add("numeric")
                return verdict
        if self.equal(g_l, p_l) and self.equal(g_r, p_r):
            return True
        return g_op in ("=", "!=") and self.equal(g_l, p_r) and self.equal(g_r, p_l)

    def leaf(self, gold: str, pred: str) -> bool:
        if _key(gold) == _key(pred):
            self.methods.add("string")
            return True
        g, p = _parsed(gold), _parsed(pred)
        if isinstance(g, TooLarge) or isinstance(p, TooLarge):
            raise LimitExceeded(str(g if isinstance(g, TooLarge) else p))
        if isinstance(g, TextAnswer) or isinstance(p, TextAnswer):
            self.methods.add("text")
            return _text_key(gold) == _text_key(pred)
        if isinstance(g, tuple) and isinstance(p, tuple):
            if self.precision is not None:
                places = _to_places(g, p, self.precision)
                if places is not None:
                    self.methods.add("precision")
                    return places
            verdict = _trees_equal(g, p)
            if verdict is not None:
                self.methods.add("numeric")
                return verdict
        self.methods.add("symbolic")
        check_symbolic_limits(gold)
        check_symbolic_limits(pred)
        self.load_sympy()
        return run_with_deadline(sympy_equal, gold, pred, timeout=self.remaining())

    def load_sympy(self) -> None:
        """Imports sympy without counting the import (~0.5 s, far more on a busy machine) against
        the deadline."""
        started = time.monotonic()
        load_sympy()
        self.deadline += time.monotonic() - started


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _text_key(text: str) -> str:
    return re.sub(r"[\s{}()\\]+", "", text).casefold().rstrip(".")


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> tuple[Any, ...] | Exception:
    try:
        return parse(text)
    except (Unsupported, TooLarge) as exc:
        return exc
    except RecursionError:  # MAX_TOKENS keeps trees shallow; this is the backstop
        return Unsupported("nested too deeply")


def _variants(node: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    # 33.5% answers 0.335 and, as a unit left off, 33.5 too
    return [node, strip_percent(node)] if node[0] == "pct" else [node]


def _trees_equal(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool | None:
    verdicts = [_tree_pair(x, y) for x in _variants(a) for y in _variants(b)]
    if True in verdicts:
        return True
    return None if None in verdicts else False


def _tree_pair(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool | None:
    names = variables(a) | variables(b)
    if not names:
        try:
            return exact(a) == exact(b)
        except TooLarge as exc:
            # sympy would compute the same huge integer, holding the GIL while it does
            raise LimitExceeded(str(exc)) from None
        except Undefined:
            return False
        except Unsupported:
            pass
    try:
        return all(close(numeric(a, env), numeric(b, env)) for env in environments(names))
    except (TooLarge, Unsupported, RecursionError):
        return None


def _to_places(a: tuple[Any, ...], b: tuple[Any, ...], places: int) -> bool | None:
    """Whether two constant values agree to ``places`` decimals (None: not both real constants)."""
    values = []
    for tree in (a, b):
        if variables(tree):
            return None
        try:
            value = exact(tree)
        except (Unsupported, TooLarge):
            try:
                z = numeric(tree, {})
            except (TooLarge, Unsupported, RecursionError):
                return None
            if abs(z.imag) > 1e-12 or not cmath.isfinite(z):
                return None
            value = Fraction(z.real)
        values.append(rounded(value, places))
    return values[0] == values[1]


def _proportional(gl: str, gr: str, pl: str, pr: str, *, positive: bool) -> bool | None:
    """Whether (gr - gl) and (pr - pl) are a constant multiple of each other (same relation)."""
    trees = [_parsed(t) for t in (gl, gr, pl, pr)]
    if not all(isinstance(t, tuple) for t in trees):
        return None
    g = ("sub", trees[1], trees[0])
    p = ("sub", trees[3], trees[2])
    names = variables(g) | variables(p)
    if not names:
        return None
    try:
        ratios = []
        for env in environments(names):
            a, b = numeric(g, env), numeric(p, env)
            if close(a, 0) or close(b, 0):
                if not (close(a, 0) and close(b, 0)):
                    return False
                continue
            ratios.append(a / b)
    except (TooLarge, Unsupported):
        return None
    if not ratios:
        return None
    first = ratios[0]
    same = all(close(r, first) for r in ratios)
    return same and (not positive or (abs(first.imag) < 1e-12 and first.real > 0))


_FLIP = {">": "<", ">=": "<="}


def _oriented(node: Node) -> tuple[str, Node, Node]:
    left, right = node.parts
    if node.op in _FLIP:
        return _FLIP[node.op], right, left
    return node.op, left, right


_NAME = re.compile(r"^(?:[a-zA-Z]|\\[a-zA-Z]+(?:\s+[A-Za-z]+)?|[a-zA-Z]\s*\([a-z, ]*\)|[a-zA-Z]_\{?\w+\}?)$")


def _named_side(node: Node) -> Node | None:
    """``x = 3`` (or ``3 = x``, ``x in [2, 3]``) against a bare answer: the side that is not a name."""
    left, right = node.parts
    if node.op not in ("=", "in"):
        return None
    if left.kind == "leaf" and _NAME.match(left.text.strip()):
        return right
    if left.kind == "seq" and all(p.kind == "leaf" and _NAME.match(p.text.strip()) for p in left.parts):
        return right  # a labelled tuple: (p, q) = (3, 2)
    if node.op == "=" and right.kind == "leaf" and _NAME.match(right.text.strip()):
        return left
    return None


def check_symbolic_limits(text: str) -> None:
    """Raises LimitExceeded for a leaf too big for sympy to handle in bounded time."""
    if len(text) > MAX_SYMBOLIC_CHARS:
        raise LimitExceeded(f"expression of {len(text)} characters (limit {MAX_SYMBOLIC_CHARS})")
    depth = deepest = 0
    for ch in text:
        if ch == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == "}":
            depth -= 1
    if deepest > MAX_SYMBOLIC_NESTING:
        raise LimitExceeded(f"nesting depth {deepest} (limit {MAX_SYMBOLIC_NESTING})")
    if text.count("^") > MAX_SYMBOLIC_POWERS:
        raise LimitExceeded(f"more than {MAX_SYMBOLIC_POWERS} powers for symbolic comparison")
    if any(p.search(text) for p in (_LONG_NUMBER, _POWER_TOWER, _BIG_EXPONENT, _BIG_FACTORIAL)):
        raise LimitExceeded("numbers or exponents too large for symbolic comparison")


_import_lock = threading.Lock()


def load_sympy() -> Any:
    """Imports sympy and latex2sympy2_extended (once, outside any deadline)."""
    with _import_lock:
        import sympy
        from latex2sympy2_extended import latex2sympy

    return sympy, latex2sympy


def sympy_parse(text: str) -> Any:
    """The sympy expression of one leaf (runs in the deadline worker)."""
    _, latex2sympy = load_sympy()
    return latex2sympy(text)


def sympy_equal(gold: str, pred: str) -> bool:
    """Whether two leaves are equal by sympy (runs in the deadline worker)."""
    sympy, _ = load_sympy()
    try:
        a, b = sympy_parse(gold), sympy_parse(pred)
    except Exception:  # noqa: BLE001 - an unparseable answer is simply not equal
        return False
    if a == b:
        return True
    try:
        if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
            return False
        return bool(sympy.simplify(a - b) == 0)
    except Exception:  # noqa: BLE001 - sympy raises many types on odd input
        return False
