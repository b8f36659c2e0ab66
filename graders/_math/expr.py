"""A small, bounded parser and evaluator for the arithmetic inside math answers (the fast path).

Covers what final answers are made of: numbers, ``+ - * / ^``, ``\\frac``, ``\\sqrt``, ``\\pi``,
``e``, ``i``, ``!``, ``\\binom``, the usual functions, implicit products (``2\\sqrt{3}``, ``3x``)
and single-letter variables. Anything else raises ``Unsupported`` and the caller decides (text
comparison or the symbolic path). The parser is a recursive descent over at most
``MAX_TOKENS`` tokens and ``MAX_DEPTH`` levels, so adversarial input costs bounded time.

Two evaluations of a tree: ``exact`` (Fractions, for rational answers; big powers are refused by
bit count) and ``numeric`` (complex floats at fixed test points for the variables, so
``x^2 + 2x + 1`` and ``(x+1)^2`` agree without any algebra).
"""

from __future__ import annotations

import cmath
import math
import operator
import re
from fractions import Fraction
from typing import Any

# Longer expressions are not final answers. It also bounds the depth of a tree (1+1+...+1 is
# one level per term), and so the recursion of the evaluators below.
MAX_TOKENS = 600
# Nesting of groups; recursion past this would approach Python's own stack limit.
MAX_DEPTH = 100
# Digits of one number literal: beyond this int() itself turns slow and no answer needs it.
MAX_DIGITS = 1_000
# Size of an exact integer result (2^{2025} is fine; 2003^{2002^{2001}} is refused at once).
MAX_INT_BITS = 100_000
# n! for n above this is refused (2004! has 5,700 digits; a million! would take seconds).
MAX_FACTORIAL = 5_000

Node = tuple[Any, ...]

# The binary operators both evaluators share (exact rationals and complex test points).
_ARITHMETIC = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


class Unsupported(Exception):
    """The expression uses syntax the fast path does not read."""


class TextAnswer(Unsupported):
    """The answer is words (``\\text{Evelyn}``, ``odd n``) or a base subscript (``52_8``): compare as text."""


class Undefined(Unsupported):
    """The value is undefined (a division by zero): it equals no answer."""


class TooLarge(Exception):
    """An exact value would pass the size limits; the answer cannot be compared cheaply."""


_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|(\\[a-zA-Z]+|\\[{}%$])|([a-zA-Z])|(\S))")
_SPACE_CMDS = frozenset(
    {"\\left", "\\right", "\\displaystyle", "\\big", "\\Big", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr"}
)
_FUNCS = {
    "sin": cmath.sin, "cos": cmath.cos, "tan": cmath.tan, "sec": lambda z: 1 / cmath.cos(z),
    "csc": lambda z: 1 / cmath.sin(z), "cot": lambda z: 1 / cmath.tan(z), "arcsin": cmath.asin,
    "arccos": cmath.acos, "arctan": cmath.atan, "sinh": cmath.sinh, "cosh": cmath.cosh,
    "tanh": cmath.tanh, "ln": cmath.log, "log": cmath.log, "exp": cmath.exp,
}  # fmt: skip
_GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi "
    "rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi Omega".split()
)
_PLAIN_WORDS = {
    "sqrt": "\\sqrt", "pi": "\\pi", "inf": "\\infty", "infty": "\\infty", "infinity": "\\infty",
    **{name: f"\\{name}" for name in _FUNCS},
}  # fmt: skip
_NOT_PRIMARY = frozenset({"\\cdot", "\\times", "\\div", "\\%", "\\pm"})
_WORD = re.compile(r"(?<![\\a-zA-Z])([a-zA-Z]{2,})")


def _plain_words(text: str) -> str:
    def swap(m: re.Match[str]) -> str:
        word = m.group(1)
        if word in _PLAIN_WORDS:
            return _PLAIN_WORDS[word]
        raise TextAnswer(f"word {word!r}")

    return _WORD.sub(swap, text)


def tokenize(text: str) -> list[str]:
    """Tokens of ``text``: numbers, commands, letters and single symbols (spacing dropped)."""
    if "_" in text:
        raise TextAnswer("subscript")
    text = _plain_words(text.replace("**", "^"))
    tokens: list[str] = []
    for m in _TOKEN.finditer(text):
        tok = m.group(m.lastindex or 0)
        if tok in _SPACE_CMDS or tok in ("\\,", "\\!", "\\;", "\\:", "\\ "):
            continue
        if m.group(1) is not None and len(tok) > MAX_DIGITS:
            raise TooLarge(f"a number with {len(tok)} digits")
        tokens.append(tok)
        if len(tokens) > MAX_TOKENS:
            raise Unsupported("expression too long")
    return tokens


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.toks = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise Unsupported(f"expected {expected or 'more'} at token {self.pos}")
        self.pos += 1
        return tok

    def parse(self) -> Node:
        node = self.expr()
        if self.peek() is not None:
            raise Unsupported(f"unexpected {self.peek()!r}")
        return node

    def expr(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Unsupported("nested too deeply")
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            node = ("add" if op == "+" else "sub", node, self.term())
        self.depth -= 1
        return node

    def term(self) -> Node:
        node = self.unary()
        while True:
            tok = self.peek()
            if tok in ("*", "\\cdot", "\\times", "/", "\\div"):
                self.take()
                node = ("div" if tok in ("/", "\\div") else "mul", node, self.unary())
            elif tok is not None and self.starts_primary(tok):
                if tok[0].isdigit() or tok[0] == ".":
                    raise Unsupported("two numbers side by side")
                node = ("mul", node, self.power())
            else:
                return node

    def starts_primary(self, tok: str) -> bool:
        return tok[0].isalnum() or tok in ("(", "{", "\\{") or (tok[0] == "\\" and tok not in _NOT_PRIMARY)

    def unary(self) -> Node:
        negative = False
        while self.peek() in ("-", "+"):  # a loop, not recursion: "------5" must not overflow the stack
            negative ^= self.take() == "-"
        node = self.power()
        return ("neg", node) if negative else node

    def power(self) -> Node:
        base = self.postfix()
        if self.peek() == "^":
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise Unsupported("nested too deeply")
            exponent = self.unary() if self.peek() in ("-", "+") else self.power()
            self.depth -= 1
            return ("pow", base, exponent)
        return base

    def postfix(self) -> Node:
        node = self.primary()
        while self.peek() in ("!", "%", "\\%"):
            node = ("fact", node) if self.take() == "!" else ("pct", node)
        return node

    def group(self) -> Node:
        """A command argument: ``{expr}`` or a single token (``\\frac12``, ``\\sqrt2``)."""
        tok = self.peek()
        if tok == "{":
            self.take()
            node = self.expr()
            self.take("}")
            return node
        if tok is not None and tok[0].isdigit():
            self.take()
            if len(tok) > 1 and "." not in tok:
                # \frac43 is 4/3: a bare argument is one character; the rest stays for later.
                self.toks.insert(self.pos, tok[1:])
                tok = tok[0]
            return ("num", Fraction(tok))
        return self.primary()

    def primary(self) -> Node:
        tok = self.take()
        if tok[0].isdigit() or tok[0] == ".":
            return self.number(tok)
        if tok in ("(", "{", "\\{", "["):
            close = {"(": ")", "{": "}", "\\{": "\\}", "[": "]"}[tok]
            node = self.expr()
            self.take(close)
            return node
        if len(tok) == 1 and tok.isalpha():
            return ("const", tok) if tok in ("e", "i") else ("var", tok)
        if tok == "\\frac":
            return ("div", self.group(), self.group())
        if tok == "\\binom":
            return ("binom", self.group(), self.group())
        if tok == "\\sqrt":
            index: Node = ("num", Fraction(2))
            if self.peek() == "[":
                self.take()
                index = self.expr()
                self.take("]")
            return ("root", self.group(), index)
        if tok in ("\\pi", "\\infty"):
            return ("const", tok[1:])
        if tok[1:] in _FUNCS:
            return self.function(tok[1:])
        if tok[1:] in _GREEK:
            return ("var", tok)
        raise Unsupported(f"command {tok}")

    def number(self, tok: str) -> Node:
        node: Node = ("num", Fraction(tok))
        # 1\frac{4}{5} is the mixed number 1 4/5, the MATH convention (not 4/5 times 1).
        if self.peek() == "\\frac" and "." not in tok:
            save = self.pos
            self.take()
            num, den = self.group(), self.group()
            if num[0] == "num" and den[0] == "num":
                return ("add", node, ("div", num, den))
            self.pos = save
        return node

    def function(self, name: str) -> Node:
        power: Node | None = None
        if self.peek() == "^":
            self.take()
            power = self.group()  # \sin^2 x
        arg = self.group() if self.peek() in ("{", "(") else self.power()
        node: Node = ("fn", name, arg)
        return ("pow", node, power) if power is not None else node


def parse(text: str) -> Node:
    """The expression tree of ``text``; raises Unsupported or TooLarge."""
    return _Parser(tokenize(text)).parse()


def strip_percent(node: Node) -> Node:
    return node[1] if node[0] == "pct" else node


def variables(node: Node, out: set[str] | None = None) -> set[str]:
    """The variable names in ``node``."""
    out = set() if out is None else out
    if node[0] == "var":
        out.add(node[1])
    else:
        for child in node[1:]:
            if isinstance(child, tuple):
                variables(child, out)
    return out


def _bits(value: Fraction) -> int:
    return value.numerator.bit_length() + value.denominator.bit_length()


def exact(node: Node) -> Fraction:
    """The exact rational value; raises Unsupported when it is not rational (or has variables)."""
    kind = node[0]
    if kind == "num":
        value: Fraction = node[1]
        return value
    if kind == "neg":
        return -exact(node[1])
    if kind == "pct":
        return exact(node[1]) / 100
    if kind in _ARITHMETIC:
        a, b = exact(node[1]), exact(node[2])
        if kind == "div" and b == 0:
            raise Undefined("division by zero")
        return _ARITHMETIC[kind](a, b)
    if kind == "pow":
        base, exponent = exact(node[1]), exact(node[2])
        if exponent.denominator != 1:
            raise Unsupported("fractional power")
        if base == 0 and exponent < 0:
            raise Undefined("division by zero")
        if base not in (0, 1, -1) and abs(exponent.numerator) * max(_bits(base), 1) > MAX_INT_BITS:
            raise TooLarge("power too large")
        return base ** int(exponent)
    if kind == "fact":
        n = exact(node[1])
        if n.denominator != 1 or n < 0:
            raise Unsupported("factorial of a non-natural number")
        if n > MAX_FACTORIAL:
            raise TooLarge("factorial too large")
        return Fraction(math.factorial(int(n)))
    if kind == "binom":
        n, k = exact(node[1]), exact(node[2])
        if n.denominator != 1 or k.denominator != 1 or n < 0 or n > MAX_FACTORIAL:
            raise Unsupported("binomial outside 0..MAX_FACTORIAL")
        return Fraction(math.comb(int(n), int(k)) if k >= 0 else 0)
    if kind == "root":
        value, index = exact(node[1]), exact(node[2])
        if index.denominator != 1 or index < 1 or value < 0 or index > 64:
            raise Unsupported("root")
        degree = int(index)
        num, den = _iroot(value.numerator, degree), _iroot(value.denominator, degree)
        if num is None or den is None:
            raise Unsupported("irrational root")
        return Fraction(num, den)
    raise Unsupported(kind)


def _iroot(value: int, n: int) -> int | None:
    if value.bit_length() > MAX_INT_BITS:
        return None
    guess = round(value ** (1.0 / n)) if value.bit_length() < 1000 else None
    if guess is None:
        return None
    for candidate in (guess - 1, guess, guess + 1):
        if candidate >= 0 and candidate**n == value:
            return candidate
    return None


_CONSTANTS = {"pi": complex(math.pi), "e": complex(math.e), "i": 1j, "infty": complex(math.inf)}


def numeric(node: Node, env: dict[str, complex]) -> complex:
    """The complex value with the variables set from ``env``; raises TooLarge on overflow."""
    try:
        return _numeric(node, env)
    except (OverflowError, ZeroDivisionError, ValueError) as exc:
        raise TooLarge(str(exc)) from None


def _numeric(node: Node, env: dict[str, complex]) -> complex:
    kind = node[0]
    if kind == "num":
        return complex(node[1])
    if kind == "var":
        return env[node[1]]
    if kind == "const":
        return _CONSTANTS[node[1]]
    if kind == "neg":
        return -_numeric(node[1], env)
    if kind == "pct":
        return _numeric(node[1], env) / 100
    if kind in _ARITHMETIC:
        return _ARITHMETIC[kind](_numeric(node[1], env), _numeric(node[2], env))
    if kind == "pow":
        base, exponent = _numeric(node[1], env), _numeric(node[2], env)
        if exponent.imag == 0 and exponent.real == int(exponent.real) and abs(exponent.real) < 10_000:
            return base ** int(exponent.real) if base != 0 or exponent.real >= 0 else base**exponent
        return complex(cmath.exp(exponent * cmath.log(base)))
    if kind == "root":
        value, index = _numeric(node[1], env), _numeric(node[2], env)
        if index == 2:
            return cmath.sqrt(value)
        if value.imag == 0 and value.real < 0 and index.imag == 0 and index.real % 2 == 1:
            return -complex(abs(value.real) ** (1 / index.real))  # the real odd root
        return complex(cmath.exp(cmath.log(value) / index))
    if kind == "fn":
        return complex(_FUNCS[node[1]](_numeric(node[2], env)))
    if kind in ("fact", "binom"):
        return complex(exact(node))
    raise Unsupported(kind)


# Test points for the variables: irrational-looking values away from 0, 1 and the poles of
# tan/cot, different per variable (by name), so that distinct expressions do not agree by accident.
_POINTS = (0.6180339887, 1.4142135623, 2.7182818284)


def environments(names: set[str]) -> list[dict[str, complex]]:
    """A few assignments of test values to ``names``, the same for both sides of a comparison."""
    ordered = sorted(names)
    return [
        {name: complex(_POINTS[(k + j) % 3] + 0.1 * j + 0.37 * k) for j, name in enumerate(ordered)} for k in range(3)
    ]


def close(a: complex, b: complex) -> bool:
    """Numeric equality: relative 1e-9, or absolute 1e-12 near zero."""
    if cmath.isinf(a) or cmath.isinf(b):
        return a == b
    if cmath.isnan(a) or cmath.isnan(b):
        return False
    return abs(a - b) <= max(1e-9 * max(abs(a), abs(b)), 1e-12)
