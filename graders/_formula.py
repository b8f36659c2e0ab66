"""The ``calculate_output`` formula of ``multi`` graders: a small safe parser, no ``eval`` of text.

Grammar (usual precedence; ``^`` is power and binds tighter than unary minus, so ``-2^2``
is -4; ``^`` is right-associative, so ``2^3^2`` is 2^9)::

    expr  := term (("+" | "-") term)*
    term  := unary (("*" | "/") unary)*
    unary := ("-" | "+") unary | power
    power := atom ("^" unary)?
    atom  := number | name | func "(" expr ("," expr)* ")" | "(" expr ")"

Functions: ``min``, ``max`` (one or more arguments), ``abs``, ``floor``, ``ceil``, ``exp``,
``sqrt``, ``log`` (natural logarithm), each of one argument. Arithmetic is in floats; division by
zero, ``sqrt``/``log`` of a negative number and overflow raise ArithmeticError/ValueError at
evaluation, which ``multi`` turns into a ``formula_eval_error`` score. The parsed formula is
turned into a Python function built from an AST of whitelisted nodes only, so evaluation runs at
the speed of hand-written arithmetic.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Sequence

from graders._errors import ErrorKind, SpecError, did_you_mean

# A formula is written by a person; these bounds only stop a pathological spec.
MAX_FORMULA_CHARS = 10_000
MAX_DEPTH = 100
# Operations nested in the built expression: ``a+a+...+a`` parses in a loop but builds a chain as
# deep as it is long, and Python's compiler recurses on it (a RecursionError past ~1,000).
MAX_OPERATIONS_DEPTH = 256

_FUNCTIONS: dict[str, tuple[Callable[..., float], int | None]] = {
    # min/max take their arguments as a tuple: Python's min(x) of one float would iterate it.
    "min": (lambda *args: min(args), None),
    "max": (lambda *args: max(args), None),
    "abs": (abs, 1),
    "floor": (math.floor, 1),
    "ceil": (math.ceil, 1),
    "exp": (math.exp, 1),
    "sqrt": (math.sqrt, 1),
    "log": (math.log, 1),
}
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_]\w*)|(?P<op>[-+*/^(),]))"
)
_BINOPS: dict[str, ast.operator] = {"+": ast.Add(), "-": ast.Sub(), "*": ast.Mult(), "/": ast.Div()}


class Formula:
    """A compiled formula over named variables.

    Example:
        >>> f = Formula.parse("0.5 * name + 0.5 * args", ["name", "args"])
        >>> f.evaluate({"name": 1.0, "args": 0.0})
        0.5
    """

    def __init__(self, source: str, variables: tuple[str, ...], fn: Callable[..., float]) -> None:
        self.source = source
        self.variables = variables
        """The variables the formula uses, in the order ``fn`` takes them."""
        self._fn = fn

    @staticmethod
    def parse(source: str, names: Sequence[str], path: Sequence[str | int] = ("calculate_output",)) -> Formula:
        """Parses ``source``; every variable must be one of ``names``.

        Raises:
            SpecError: a syntax error, an unknown variable or function (``formula_parse_error``).
        """
        parser = _Parser(source, list(names), tuple(path))
        body = parser.parse()
        if _depth(body) > MAX_OPERATIONS_DEPTH:
            raise parser.fail(f"more than {MAX_OPERATIONS_DEPTH} operations nested in one expression",
                              "split a long sum into parenthesised parts")  # fmt: skip
        used = tuple(parser.used)
        args = ast.arguments(
            posonlyargs=[], args=[ast.arg(arg=f"v{i}") for i in range(len(used))], vararg=None,
            kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[],
        )
        tree = ast.Expression(body=ast.Lambda(args=args, body=body))
        for node in ast.walk(tree):  # not ast.fix_missing_locations: that recurses once per level
            if "lineno" in node._attributes:
                node.lineno = node.end_lineno = 1  # type: ignore[attr-defined]
                node.col_offset = node.end_col_offset = 0  # type: ignore[attr-defined]
        namespace: dict[str, object] = {"__builtins__": {}, "_pow": math.pow, "_float": float}
        namespace.update({f"_f_{name}": fn for name, (fn, _) in _FUNCTIONS.items()})
        fn = eval(compile(tree, f"<formula {source!r}>", "eval"), namespace)  # noqa: S307 - our own AST
        return Formula(source, used, fn)

    def evaluate(self, values: dict[str, float]) -> float:
        """Evaluates the formula; raises ArithmeticError or ValueError on a math error."""
        return float(self._fn(*(values[name] for name in self.variables)))

    def evaluate_args(self, *args: float) -> float:
        """Evaluates with the variables given positionally, in ``self.variables`` order."""
        return float(self._fn(*args))


def _depth(tree: ast.AST) -> int:
    """Depth of an expression tree, counted without recursion."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


class _Parser:
    def __init__(self, source: str, names: list[str], path: tuple[str | int, ...]) -> None:
        if len(source) > MAX_FORMULA_CHARS:
            raise SpecError(f"{ErrorKind.FORMULA_PARSE_ERROR}: formula is over {MAX_FORMULA_CHARS} characters", path)
        self.source = source
        self.names = names
        self.path = path
        self.used: list[str] = []
        self.tokens = self._tokenize()
        self.pos = 0
        self.depth = 0

    def fail(self, why: str, hint: str = "") -> SpecError:
        shown = self.source if len(self.source) <= 80 else self.source[:80] + "..."
        return SpecError(f"{ErrorKind.FORMULA_PARSE_ERROR}: {why} in {shown!r}", self.path, hint)

    def _tokenize(self) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        pos = 0
        text = self.source.rstrip()
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                raise self.fail(f"unexpected character {text[pos:].lstrip()[:1]!r}")
            kind = match.lastgroup or ""
            tokens.append((kind, match.group(kind)))
            pos = match.end()
        if not tokens:
            raise self.fail("empty formula")
        return tokens

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, op: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.fail("unexpected end of formula" + (f", expected {op!r}" if op else ""))
        if op is not None and token != ("op", op):
            raise self.fail(f"expected {op!r} but found {token[1]!r}")
        self.pos += 1
        return token

    def parse(self) -> ast.expr:
        node = self.expr()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def expr(self) -> ast.expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH}")
        node = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            node = ast.BinOp(left=node, op=_BINOPS[op], right=self.term())
        self.depth -= 1
        return node

    def term(self) -> ast.expr:
        node = self.unary()
        while self.peek() in (("op", "*"), ("op", "/")):
            op = self.take()[1]
            node = ast.BinOp(left=node, op=_BINOPS[op], right=self.unary())
        return node

    def unary(self) -> ast.expr:
        if self.peek() in (("op", "-"), ("op", "+")):
            op = self.take()[1]
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail(f"nested deeper than {MAX_DEPTH}")
            operand = self.unary()
            self.depth -= 1
            return ast.UnaryOp(op=ast.USub() if op == "-" else ast.UAdd(), operand=operand)
        return self.power()

    def power(self) -> ast.expr:
        base = self.atom()
        if self.peek() == ("op", "^"):
            self.take()
            self.depth += 1  # a^a^...^a recurses once per ^ (right-associative)
            if self.depth > MAX_DEPTH:
                raise self.fail(f"nested deeper than {MAX_DEPTH}")
            exponent = self.unary()
            self.depth -= 1
            return ast.Call(func=ast.Name(id="_pow", ctx=ast.Load()), args=[base, exponent], keywords=[])
        return base

    def atom(self) -> ast.expr:
        kind, text = self.take()
        if kind == "num":
            return ast.Constant(value=float(text))
        if kind == "name":
            if self.peek() == ("op", "("):
                return self.call(text)
            if text not in self.names:
                if text in _FUNCTIONS:
                    raise self.fail(f"function {text!r} needs parentheses")
                hint = did_you_mean(text, self.names) + f" (graders: {', '.join(self.names)})"
                raise self.fail(f"unknown variable {text!r}", hint)
            if text not in self.used:
                self.used.append(text)
            return ast.Name(id=f"v{self.used.index(text)}", ctx=ast.Load())
        if text == "(":
            node = self.expr()
            self.take(")")
            return node
        raise self.fail(f"unexpected {text!r}")

    def call(self, name: str) -> ast.expr:
        if name not in _FUNCTIONS:
            hint = did_you_mean(name, _FUNCTIONS) + f" (functions: {', '.join(_FUNCTIONS)})"
            raise self.fail(f"unknown function {name!r}", hint)
        self.take("(")
        args = [self.expr()]
        while self.peek() == ("op", ","):
            self.take()
            args.append(self.expr())
        self.take(")")
        arity = _FUNCTIONS[name][1]
        if arity is not None and len(args) != arity:
            raise self.fail(f"{name}() takes {arity} argument, got {len(args)}")
        call = ast.Call(func=ast.Name(id=f"_f_{name}", ctx=ast.Load()), args=args, keywords=[])
        # floor/ceil return ints in Python; keep the formula in floats.
        return ast.Call(func=ast.Name(id="_float", ctx=ast.Load()), args=[call], keywords=[])
