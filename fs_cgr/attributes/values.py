"""Attribute values: CGrateS' RSR parsers and the substitution types that use them.

A Value is a ``;``-separated list of parsers. A parser starting with ``~`` reads an event
field (``~*req.Subject``) and may rewrite it with regular expressions
(``~*req.Subject:s/^0(\\d+)$/61${1}/``: no match leaves the value unchanged, as
CGrateS' national-to-E.164 recipes rely on); any other parser is a constant.
"""

import functools
import re
from decimal import Decimal, InvalidOperation

from fs_cgr.durations import format_duration
from fs_cgr.errors import NotFound, ServerError
from fs_cgr.money import round_money
from fs_cgr.times import diff_ns, parse_time

REQ = "*req."
CONSTANT = "*constant"
VARIABLE = "*variable"
COMPOSED = "*composed"
USAGE_DIFFERENCE = "*usage_difference"
SUM = "*sum"
VALUE_EXPONENT = "*value_exponent"
REMOVE = "*remove"
_SEARCH_REPLACE = re.compile(r":s/((?:[^/\\]|\\.)*)/((?:[^/\\]|\\.)*)/")
_GO_GROUP = re.compile(r"\$\{(\w+)\}|\$(\d+)")


class Parser:
    """One RSR rule: a constant, or an event path with its search/replace rules."""

    __slots__ = ("rules", "path", "replaces")

    def __init__(self, rules: str):
        if not rules:
            raise ValueError("empty value rule")
        self.rules = rules
        self.path = None
        self.replaces: list[tuple[re.Pattern, str]] = []
        if rules.startswith("~") and len(rules) > 1:
            head = _SEARCH_REPLACE.split(rules)
            self.path = head[0][1:]
            try:
                self.replaces = [
                    (re.compile(head[i]), _python_template(head[i + 1]))
                    for i in range(1, len(head) - 1, 3)
                ]
            except re.error as exc:
                raise ValueError(f"invalid regular expression in {rules!r}: {exc}") from None

    def constant(self) -> str:
        return self._rewrite("") if self.path is not None else self.rules

    def value(self, event: dict) -> str:
        if self.path is None:
            return self.rules
        if not self.path.startswith(REQ):
            raise NotFound()
        found = event.get(self.path[len(REQ) :])
        if found is None:
            raise NotFound()
        return self._rewrite(as_text(found))

    def _rewrite(self, text: str) -> str:
        for pattern, template in self.replaces:
            match = pattern.search(text)
            if match is not None:
                text = match.expand(template)
        return text


def parsers(value: str) -> tuple[Parser, ...]:
    """The parsers of a Value (ValueError naming a bad one); compiled once per Value."""
    return _compiled(str(value))


@functools.lru_cache(maxsize=4096)
def _compiled(value: str) -> tuple[Parser, ...]:
    return tuple(Parser(rule) for rule in value.split(";"))


def _python_template(template: str) -> str:
    """Go's ``${1}``/``$1``/``${name}`` as Python's ``\\g<...>``."""
    escaped = template.replace("\\", "\\\\")
    return _GO_GROUP.sub(lambda m: rf"\g<{m.group(1) or m.group(2)}>", escaped)


def as_text(value) -> str:
    """A field as CGrateS prints it into a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):
        return _number_text(value)
    return str(value)


def _number_text(number: Decimal) -> str:
    normal = number.normalize()
    return str(int(normal)) if normal == normal.to_integral_value() else format(normal, "f")


def substitute(
    kind: str, value_parsers: tuple[Parser, ...], event: dict, rounding_decimals: int
) -> str:
    """The new value of an attribute of type ``kind``; NotFound when a field is missing."""
    if kind == CONSTANT:
        return "".join(parser.constant() for parser in value_parsers)
    if kind == USAGE_DIFFERENCE:
        end, start = _pair(kind, value_parsers, event)
        return format_duration(diff_ns(_time(end), _time(start)))
    if kind == SUM:
        return _number_text(sum((_number(p.value(event)) for p in value_parsers), Decimal(0)))
    if kind == VALUE_EXPONENT:
        number, exponent = _pair(kind, value_parsers, event)
        try:
            scaled = _number(number).scaleb(int(exponent))
        except ValueError:
            raise ServerError(f"invalid value <{exponent}> to {kind}") from None
        return _number_text(round_money(scaled, rounding_decimals))
    return "".join(parser.value(event) for parser in value_parsers)  # *variable, *composed


def _pair(kind: str, value_parsers: tuple[Parser, ...], event: dict) -> tuple[str, str]:
    if len(value_parsers) != 2:
        raise ServerError(f"invalid arguments <{';'.join(p.rules for p in value_parsers)}>")
    return value_parsers[0].value(event), value_parsers[1].value(event)


def _time(text: str):
    try:
        moment = parse_time(text)
    except ValueError:
        moment = None
    if moment is None:
        raise ServerError(f"invalid time <{text}>")
    return moment


def _number(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ServerError(f"invalid number <{text}>") from None
