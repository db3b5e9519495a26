"""StatS metrics: what each one takes from an event and how it prints, as CGrateS v0.10.

A metric's state is a plain dict shaped like CGrateS' JSON of that metric (``Sum``,
``Count``, ``Events`` by event ID with a ``CompressFactor``, ...), so a stat queue is
stored and replied (``StatSv1.GetStatQueue``) without conversion. The metric classes
hold no state of their own: ``metric_for(metric_id)`` gives the one that knows how to
change and read such a dict.

Metric IDs are CGrateS': ``*asr *acd *tcd *acc *tcc *pdd *ddc`` and
``*sum:<field> *average:<field> *distinct:<field>`` (``*sum:~*req.Usage``; ``#`` is
accepted for ``:``). Below MinItems (or with no event) a metric is not available:
``N/A`` as a string, -1 as a number.
"""

from decimal import Decimal, InvalidOperation

from fs_cgr.durations import SECOND, format_duration, parse_duration
from fs_cgr.errors import CGRError
from fs_cgr.filters import REQ_PREFIX
from fs_cgr.money import round_global, to_decimal
from fs_cgr.times import parse_time

NOT_AVAILABLE = "N/A"
NA_NUMBER = -1


class MetricError(CGRError):
    """An event a metric cannot take (a field missing or of the wrong kind)."""

    code = "SERVER_ERROR"

    @property
    def message(self) -> str:
        return self.detail


def _format_number(value: Decimal) -> str:
    """A number as Go's FormatFloat(v, 'f', -1) prints it: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _number(event: dict, field: str):
    """The event's field as a number; a missing field names itself (``NOT_FOUND:Cost``)."""
    if field not in event or event[field] is None:
        raise MetricError(f"NOT_FOUND:{field}")
    value = event[field]
    try:
        return _compact(to_decimal(value))
    except (ValueError, InvalidOperation):
        pass
    try:  # a duration text ("1m30s") counts its nanoseconds, as a Go Duration would
        return parse_duration(value)
    except ValueError:
        raise MetricError(f"cannot convert field: {value!r} to float64") from None


def _compact(value):
    """Whole numbers as int: stored queues stay small and quick to write."""
    if isinstance(value, int) or value != value.to_integral_value():
        return value
    return int(value)


def _duration(event: dict, field: str) -> int:
    if field not in event or event[field] is None:
        raise MetricError(f"NOT_FOUND:{field}")
    try:
        return parse_duration(event[field])
    except ValueError:
        raise MetricError(f"cannot convert field: {event[field]!r} to time.Duration") from None


def _string(event: dict, field: str) -> str:
    if field not in event:
        raise MetricError("NOT_FOUND")
    value = event[field]
    return "" if value is None else str(value)


class Metric:
    """One kind of metric; ``state`` arguments are the stored dicts it changes or reads."""

    def __init__(self, metric_id: str, field: str = ""):
        self.metric_id = metric_id
        self.field = field
        # what follows the type in the ID (``~*req.Usage``); CGrateS stores it as FieldName
        self.field_name = metric_id.replace("#", ":", 1).partition(":")[2]

    def new_state(self, min_items: int, filter_ids: list) -> dict:
        state = {"FilterIDs": list(filter_ids), "MinItems": min_items}
        if self.field_name:
            state["FieldName"] = self.field_name
        return state

    def add(self, state: dict, event_id: str, event: dict) -> None:
        raise NotImplementedError

    def remove(self, state: dict, event_id: str) -> None:
        raise NotImplementedError

    def value(self, state: dict):
        """The value, or None when not available."""
        raise NotImplementedError

    def string_value(self, state: dict) -> str:
        value = self.value(state)
        return NOT_AVAILABLE if value is None else self.text(value)

    def float_value(self, state: dict):
        value = self.value(state)
        return NA_NUMBER if value is None else value

    def event_value(self, state: dict):
        """The value as StatS sends it to ThresholdS (CGrateS' GetValue)."""
        return self.float_value(state)

    def text(self, value) -> str:
        return _format_number(value)


def _below_min(state: dict) -> bool:
    count = state.get("Count", 0)
    return count == 0 or count < state.get("MinItems", 0)


class _Compressed(Metric):
    """Metrics keeping one number per event ID (repeats averaged, CompressFactor counts
    them), a running ``Sum`` of them and a ``Count``."""

    slot = "Stat"  # the per-event key CGrateS uses

    def new_state(self, min_items: int, filter_ids: list) -> dict:
        state = super().new_state(min_items, filter_ids)
        state.update({"Sum": 0, "Count": 0, "Events": {}})
        return state

    def sample(self, event: dict):
        raise NotImplementedError

    def add(self, state: dict, event_id: str, event: dict) -> None:
        sample = self.sample(event)
        state["Sum"] = _compact(state["Sum"] + sample)
        self._remember(state, event_id, sample)

    def _remember(self, state: dict, event_id: str, sample) -> None:
        entry = state["Events"].get(event_id)
        if entry is None:
            state["Events"][event_id] = {self.slot: sample, "CompressFactor": 1}
        else:
            factor = entry["CompressFactor"]
            entry[self.slot] = self._average(entry[self.slot], factor, sample)
            entry["CompressFactor"] = factor + 1
        state["Count"] += 1

    @staticmethod
    def _average(old, factor: int, sample):
        return _compact((Decimal(old) * factor + sample) / (factor + 1))

    def remove(self, state: dict, event_id: str) -> None:
        entry = state["Events"].get(event_id)
        if entry is None:
            return
        state["Sum"] = _compact(state["Sum"] - entry[self.slot])
        state["Count"] -= 1
        self._forget(state, event_id, entry)

    @staticmethod
    def _forget(state: dict, event_id: str, entry: dict) -> None:
        if entry["CompressFactor"] <= 1:
            del state["Events"][event_id]
        else:
            entry["CompressFactor"] -= 1


class _DurationMetric(_Compressed):
    """Durations (ns) of a field: the average (ACD, PDD) or the total (TCD)."""

    slot = "Duration"

    def __init__(self, metric_id: str, field: str, total: bool):
        super().__init__(metric_id, field)
        self.total = total

    def new_state(self, min_items: int, filter_ids: list) -> dict:
        state = super().new_state(min_items, filter_ids)
        state["Sum"] = 0
        return state

    def sample(self, event: dict) -> int:
        return _duration(event, self.field)

    @staticmethod
    def _average(old, factor: int, sample):
        return int((old * factor + sample) / (factor + 1))

    def value(self, state: dict):
        if _below_min(state):
            return None
        return state["Sum"] if self.total else int(state["Sum"]) // state["Count"]

    def text(self, value) -> str:
        return format_duration(value)

    def float_value(self, state: dict):
        value = self.value(state)
        return NA_NUMBER if value is None else Decimal(value) / SECOND

    def event_value(self, state: dict):
        value = self.value(state)
        return NA_NUMBER if value is None else value


class _NumberMetric(_Compressed):
    """Numbers of a field (Cost, or any ``~*req.Field``): the average or the total,
    rounded to 5 decimals."""

    def __init__(self, metric_id: str, field: str, total: bool, constant: bool = False):
        super().__init__(metric_id, field)
        self.total = total
        self.constant = constant

    def sample(self, event: dict) -> Decimal:
        if self.constant:
            try:
                return _compact(to_decimal(self.field_name))
            except ValueError:
                raise MetricError(f"cannot convert field: {self.field_name!r} to float64") from None
        return _number(event, self.field)

    def value(self, state: dict):
        if _below_min(state):
            return None
        total = Decimal(state["Sum"])
        return round_global(total if self.total else total / state["Count"])


class _ASR(_Compressed):
    """Answer-seizure ratio: percent of events with a (non-zero) AnswerTime."""

    def new_state(self, min_items: int, filter_ids: list) -> dict:
        state = super().new_state(min_items, filter_ids)
        del state["Sum"]
        state["Answered"] = 0
        return state

    def add(self, state: dict, event_id: str, event: dict) -> None:
        try:
            answered = 1 if parse_time(event.get("AnswerTime")) is not None else 0
        except ValueError:
            raise MetricError(f"cannot parse AnswerTime {event.get('AnswerTime')!r}") from None
        state["Answered"] = state["Answered"] + answered
        self._remember(state, event_id, answered)

    def remove(self, state: dict, event_id: str) -> None:
        entry = state["Events"].get(event_id)
        if entry is None:
            return
        if entry["Stat"] > Decimal("0.5"):
            state["Answered"] = state["Answered"] - 1
        state["Count"] -= 1
        self._forget(state, event_id, entry)

    def value(self, state: dict):
        if _below_min(state):
            return None
        return round_global(Decimal(state["Answered"]) / state["Count"] * 100)

    def text(self, value) -> str:
        return _format_number(value) + "%"


class _Distinct(Metric):
    """How many distinct values a field took (``*ddc``: Destination)."""

    def __init__(self, metric_id: str, field: str, checked: bool = True):
        super().__init__(metric_id, field)
        self.checked = checked

    def new_state(self, min_items: int, filter_ids: list) -> dict:
        state = super().new_state(min_items, filter_ids)
        state.update({"FieldValues": {}, "Events": {}, "Count": 0})
        return state

    def add(self, state: dict, event_id: str, event: dict) -> None:
        if not self.checked:
            raise MetricError(f"Invalid format for field <{self.field_name}>")
        value = _string(event, self.field)
        state["FieldValues"].setdefault(value, {})[event_id] = {}
        counts = state["Events"].setdefault(event_id, {})
        counts[value] = counts.get(value, 0) + 1
        state["Count"] += 1

    def remove(self, state: dict, event_id: str) -> None:
        counts = state["Events"].get(event_id)
        if not counts:
            return
        value = next(iter(counts))
        state["Count"] -= 1
        if counts[value] > 1:
            counts[value] -= 1
            return
        del counts[value]
        if not counts:
            del state["Events"][event_id]
        holders = state["FieldValues"].get(value, {})
        holders.pop(event_id, None)
        if not holders:
            state["FieldValues"].pop(value, None)

    def value(self, state: dict):
        if _below_min(state):
            return None
        return Decimal(len(state["FieldValues"]))


def metric_for(metric_id: str) -> Metric:
    """The metric of a CGrateS metric ID; an unknown type raises MetricError."""
    kind, sep, param = metric_id.replace("#", ":", 1).partition(":")
    field = param[len(REQ_PREFIX) :] if param.startswith(REQ_PREFIX) else param
    if kind == "*asr":
        return _ASR(metric_id)
    if kind in ("*acd", "*tcd", "*pdd"):
        return _DurationMetric(metric_id, "PDD" if kind == "*pdd" else "Usage", kind == "*tcd")
    if kind in ("*acc", "*tcc"):
        return _NumberMetric(metric_id, "Cost", kind == "*tcc")
    if kind in ("*sum", "*average"):
        constant = not param.startswith(REQ_PREFIX)
        return _NumberMetric(metric_id, field, kind == "*sum", constant)
    if kind == "*ddc":
        return _Distinct(metric_id, "Destination")
    if kind == "*distinct":
        return _Distinct(metric_id, field, checked=param.startswith(REQ_PREFIX))
    raise MetricError(f"unsupported metric type <{kind}>")
