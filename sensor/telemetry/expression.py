"""The filter expression language: parse once, type-check against an event kind's fields, compile to one function.

Grammar (keywords are case-insensitive)::

    expression := or
    or         := and ("OR" and)*
    and        := unary ("AND" unary)*
    unary      := "NOT" unary | "(" or ")" | predicate
    predicate  := FIELD                                   a boolean field
                | FIELD ("==" | "!=") literal
                | FIELD ("<" | "<=" | ">" | ">=") INTEGER
                | FIELD ["NOT"] "LIKE" STRING             * matches any run of characters
                | FIELD "&" INTEGER [("==" | "!=") INTEGER]  bits set (non-zero), or masked equality
    literal    := STRING | INTEGER | "true" | "false"

Strings take single or double quotes and backslash escapes; integers are decimal or 0x hex.
Every error names the column (1-based) where it was found: ``column 17: unknown field 'exec_flename'``.
The compiled filter is a single Python lambda built from the checked tree, with literals embedded
by ``repr`` and LIKE patterns precompiled, so testing an event is one call.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Union

from sensor.telemetry.event_fields import Field, FieldType

MAX_LENGTH = 4096
MAX_DEPTH = 64

EventPredicate = Callable[[Any], bool]


class FilterError(ValueError):
    """A filter expression that cannot be used, and where."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column
        self.message = message


class Tok(str, Enum):
    """Token kinds."""

    FIELD = "field name"
    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "true/false"
    OP = "operator"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    LIKE = "LIKE"
    LPAREN = "'('"
    RPAREN = "')'"
    END = "end of expression"


@dataclass(frozen=True, slots=True)
class Token:
    """One token, its value, and its 1-based column."""

    kind: Tok
    value: Any
    column: int


_KEYWORDS = {"and": Tok.AND, "or": Tok.OR, "not": Tok.NOT, "like": Tok.LIKE}
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "&")
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "0": "\0"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?(0[xX][0-9A-Fa-f]+|[0-9]+)(?![A-Za-z0-9_])")


def _integer(text: str) -> int:
    return int(text, 16) if text.lstrip("-")[:2] in ("0x", "0X") else int(text, 10)


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with END. Raises FilterError."""
    if len(text) > MAX_LENGTH:
        raise FilterError(MAX_LENGTH + 1, f"expression longer than {MAX_LENGTH} characters")
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        column = i + 1
        if c.isspace():
            i += 1
        elif c in "()":
            tokens.append(Token(Tok.LPAREN if c == "(" else Tok.RPAREN, c, column))
            i += 1
        elif c in "\"'":
            value, i = _string(text, i)
            tokens.append(Token(Tok.STRING, value, column))
        elif number := _NUMBER.match(text, i):
            tokens.append(Token(Tok.INTEGER, _integer(number.group()), column))
            i = number.end()
        elif ident := _IDENT.match(text, i):
            word = ident.group()
            lower = word.lower()
            if lower in _KEYWORDS:
                tokens.append(Token(_KEYWORDS[lower], lower, column))
            elif lower in ("true", "false"):
                tokens.append(Token(Tok.BOOLEAN, lower == "true", column))
            else:
                tokens.append(Token(Tok.FIELD, word, column))
            i = ident.end()
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                hint = {"=": " (equality is '==')", "|": " (use OR)", "!": " (use NOT or '!=')"}.get(c, "")
                raise FilterError(column, f"unexpected character {c!r}{hint}")
            tokens.append(Token(Tok.OP, op, column))
            i += len(op)
    tokens.append(Token(Tok.END, None, len(text) + 1))
    return tokens


def field_names(text: str) -> list[str]:
    """The field names ``text`` mentions, in order, each once. Raises FilterError for a bad token."""
    return list(dict.fromkeys(token.value for token in tokenize(text) if token.kind is Tok.FIELD))


def _string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == quote:
            return "".join(out), i + 1
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in _ESCAPES:
                raise FilterError(i + 1, "unknown escape in string (known: \\n \\t \\\\ \\\" \\' \\0)")
            out.append(_ESCAPES[text[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    raise FilterError(start + 1, "string not closed")


# The checked tree.
@dataclass(frozen=True, slots=True)
class Compare:
    """``field op literal`` (``op`` is a Python comparison operator)."""

    field: Field
    op: str
    value: int | str | bool


@dataclass(frozen=True, slots=True)
class Like:
    """``field [NOT] LIKE 'glob'``."""

    field: Field
    pattern: str
    negated: bool


@dataclass(frozen=True, slots=True)
class BitTest:
    """``field & mask`` (non-zero), or ``field & mask == value`` / ``!= value``."""

    field: Field
    mask: int
    op: str | None = None
    value: int = 0


@dataclass(frozen=True, slots=True)
class IsTrue:
    """A boolean field on its own."""

    field: Field


@dataclass(frozen=True, slots=True)
class Not:
    """``NOT operand``."""

    operand: Node


@dataclass(frozen=True, slots=True)
class Junction:
    """``AND`` or ``OR`` of two or more operands."""

    op: str  # "and" | "or"
    operands: tuple[Node, ...]


Node = Union[Compare, Like, BitTest, IsTrue, Not, Junction]


class _Parser:
    def __init__(self, text: str, fields: Mapping[str, Field], unknown_hint: Callable[[str], str]) -> None:
        self.tokens = tokenize(text)
        self.at = 0
        self.fields = fields
        self.unknown_hint = unknown_hint
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def expect(self, kind: Tok, what: str) -> Token:
        token = self.take()
        if token.kind is not kind:
            raise FilterError(token.column, f"expected {what}, found {_describe(token)}")
        return token

    def parse(self) -> Node:
        if self.peek().kind is Tok.END:
            raise FilterError(1, "empty expression")
        node = self.disjunction()
        end = self.peek()
        if end.kind is not Tok.END:
            raise FilterError(end.column, f"expected AND, OR or the end, found {_describe(end)}")
        return node

    def disjunction(self) -> Node:
        return self.junction("or", Tok.OR, self.conjunction)

    def conjunction(self) -> Node:
        return self.junction("and", Tok.AND, self.unary)

    def junction(self, op: str, kind: Tok, operand: Callable[[], Node]) -> Node:
        operands = [operand()]
        while self.peek().kind is kind:
            self.take()
            operands.append(operand())
        return operands[0] if len(operands) == 1 else Junction(op, tuple(operands))

    def unary(self) -> Node:
        token = self.peek()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError(token.column, f"nested deeper than {MAX_DEPTH} levels")
        try:
            if token.kind is Tok.NOT:
                self.take()
                return Not(self.unary())
            if token.kind is Tok.LPAREN:
                self.take()
                node = self.disjunction()
                self.expect(Tok.RPAREN, f"')' to close the '(' at column {token.column}")
                return node
            return self.predicate()
        finally:
            self.depth -= 1

    def predicate(self) -> Node:
        name = self.expect(Tok.FIELD, "a field name, NOT or '('")
        field = self.fields.get(name.value)
        if field is None:
            raise FilterError(name.column, f"unknown field {name.value!r}{self.unknown_hint(name.value)}")
        following = self.peek()
        if following.kind is Tok.OP:
            self.take()
            if following.value == "&":
                return self.bit_test(name, field)
            return self.comparison(name, field, following)
        if following.kind in (Tok.LIKE, Tok.NOT) and (following.kind is Tok.LIKE or self._not_like()):
            negated = following.kind is Tok.NOT
            self.take()
            if negated:
                self.take()
            _require(field, FieldType.STRING, name, "LIKE")
            pattern = self.expect(Tok.STRING, "a quoted pattern after LIKE")
            return Like(field, pattern.value, negated)
        if field.type is not FieldType.BOOLEAN:
            raise FilterError(
                name.column,
                f"{name.value!r} is {field.type.value}, not a condition: compare it (e.g. {name.value} == ...)",
            )
        return IsTrue(field)

    def _not_like(self) -> bool:
        return self.tokens[self.at + 1].kind is Tok.LIKE

    def comparison(self, name: Token, field: Field, op: Token) -> Node:
        literal = self.take()
        if literal.kind not in (Tok.STRING, Tok.INTEGER, Tok.BOOLEAN):
            raise FilterError(literal.column, f"expected a value after {op.value!r}, found {_describe(literal)}")
        if op.value not in ("==", "!="):
            _require(field, FieldType.INTEGER, name, f"{op.value!r}")
        wanted = {FieldType.STRING: Tok.STRING, FieldType.INTEGER: Tok.INTEGER, FieldType.BOOLEAN: Tok.BOOLEAN}
        if literal.kind is not wanted[field.type]:
            example = {FieldType.STRING: '"text"', FieldType.INTEGER: "a number", FieldType.BOOLEAN: "true or false"}
            raise FilterError(
                literal.column,
                f"{name.value!r} is {field.type.value}; compare it with {example[field.type]}, "
                f"not {_describe(literal)}",
            )
        return Compare(field, op.value, literal.value)

    def bit_test(self, name: Token, field: Field) -> Node:
        _require(field, FieldType.INTEGER, name, "'&'")
        mask = self.expect(Tok.INTEGER, "an integer mask after '&'")
        following = self.peek()
        if following.kind is Tok.OP and following.value in ("==", "!="):
            self.take()
            value = self.expect(Tok.INTEGER, f"an integer after {following.value!r}")
            return BitTest(field, mask.value, following.value, value.value)
        return BitTest(field, mask.value)


def _require(field: Field, wanted: FieldType, name: Token, operator: str) -> None:
    if field.type is not wanted:
        raise FilterError(name.column, f"{operator} needs {wanted.value} field; {name.value!r} is {field.type.value}")


def _describe(token: Token) -> str:
    if token.kind is Tok.END:
        return "the end of the expression"
    if token.kind is Tok.STRING:
        return f"string {token.value!r}"
    return f"{token.kind.value} {token.value!r}" if token.kind in (Tok.FIELD, Tok.INTEGER, Tok.OP) else token.kind.value


def parse(text: str, fields: Mapping[str, Field], unknown_hint: Callable[[str], str] | None = None) -> Node:
    """The checked tree of ``text`` over ``fields``. Raises FilterError naming the column.

    ``unknown_hint`` may explain an unknown field (e.g. that it belongs to another event type);
    otherwise the error suggests the closest known name.
    """

    def hint(name: str) -> str:
        explained = unknown_hint(name) if unknown_hint is not None else ""
        if explained:
            return explained
        close = difflib.get_close_matches(name, list(fields), n=1)
        return f" (did you mean {close[0]!r}?)" if close else ""

    return _Parser(text, fields, hint).parse()


def _glob_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def _source(node: Node, patterns: list[re.Pattern[str]]) -> str:
    if isinstance(node, Compare):
        return f"({node.field.source} {node.op} {node.value!r})"
    if isinstance(node, Like):
        patterns.append(_glob_regex(node.pattern))
        test = "is None" if node.negated else "is not None"
        return f"(_p{len(patterns) - 1}.fullmatch({node.field.source}) {test})"
    if isinstance(node, BitTest):
        if node.op is None:
            return f"(({node.field.source}) & {node.mask} != 0)"
        return f"((({node.field.source}) & {node.mask}) {node.op} {node.value})"
    if isinstance(node, IsTrue):
        return f"bool({node.field.source})"
    if isinstance(node, Not):
        return f"(not {_source(node.operand, patterns)})"
    return "(" + f" {node.op} ".join(_source(o, patterns) for o in node.operands) + ")"


def compile_tree(node: Node) -> EventPredicate:
    """One function testing an event against the tree."""
    patterns: list[re.Pattern[str]] = []
    source = f"lambda e: {_source(node, patterns)}"
    namespace: dict[str, Any] = {"__builtins__": {"bool": bool}}
    namespace.update({f"_p{i}": p for i, p in enumerate(patterns)})
    predicate: EventPredicate = eval(compile(source, "<filter expression>", "eval"), namespace)
    return predicate


def compile_expression(
    text: str, fields: Mapping[str, Field], unknown_hint: Callable[[str], str] | None = None
) -> EventPredicate:
    """Parse, check and compile ``text``. Raises FilterError naming the column."""
    return compile_tree(parse(text, fields, unknown_hint))
