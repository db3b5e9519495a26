"""Money is Decimal, rounded only where CGrateS rounds.

CGrateS rounds every increment's cost to ``general.rounding_decimals`` (5) with
*middle, and a DestinationRate's RoundingMethod/RoundingDecimals on the cost of
a rated CDR or a debit. Its ``*up`` ignores fractions below 1e-7 (float noise);
on exact decimals that is the plain ceiling.
"""

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation

GLOBAL_ROUNDING_DECIMALS = 5

ROUND_UP = "*up"
ROUND_DOWN = "*down"
ROUND_MIDDLE = "*middle"
_METHODS = {ROUND_UP: ROUND_CEILING, ROUND_DOWN: ROUND_FLOOR, ROUND_MIDDLE: ROUND_HALF_UP}
ZERO = Decimal(0)
MAX_PLAN_AMOUNT = Decimal("1e12")  # a rate, fee or MaxCost above this is a typo, not a price
MAX_PLAN_DECIMALS = 20
_QUANTA = {decimals: Decimal(1).scaleb(-decimals) for decimals in range(21)}  # built once: hot


def to_decimal(value) -> Decimal:
    """Decimal from a JSON number, string or Decimal; "" and None are 0. Floats go via str."""
    if value is None or value == "":
        return ZERO
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(f"invalid amount: {value!r}")
    if isinstance(value, float):
        value = repr(value)
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"invalid amount: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"invalid amount: {value!r}")
    return result


def round_money(amount: Decimal, decimals: int, method: str = ROUND_MIDDLE) -> Decimal:
    """Round like CGrateS' utils.Round; an unknown method leaves the amount as it is."""
    rounding = _METHODS.get(method)
    if rounding is None:
        return amount
    quantum = _QUANTA.get(decimals) or Decimal(1).scaleb(-decimals)
    return amount.quantize(quantum, rounding)


def round_global(amount: Decimal) -> Decimal:
    return round_money(amount, GLOBAL_ROUNDING_DECIMALS, ROUND_MIDDLE)


def to_json_number(amount: Decimal):
    """A Decimal as the JSON number CGrateS would print (int when whole)."""
    normal = amount.normalize()
    if normal == normal.to_integral_value():
        return int(normal)
    return float(normal)


def plan_amount(value) -> Decimal:
    """A tariff-plan amount: finite, not negative, below MAX_PLAN_AMOUNT, at most
    MAX_PLAN_DECIMALS decimals ("" = 0); ValueError says which bound it broke."""
    try:
        amount = to_decimal(value)
    except ValueError:  # text, NaN, Infinity; the value itself is not repeated
        raise ValueError("not a decimal amount") from None
    if amount < 0:
        raise ValueError("must not be negative")
    if amount > MAX_PLAN_AMOUNT:
        raise ValueError(f"larger than {MAX_PLAN_AMOUNT:f}")
    if amount and amount.as_tuple().exponent < -MAX_PLAN_DECIMALS:
        raise ValueError(f"more than {MAX_PLAN_DECIMALS} decimals")
    return amount
