"""JSON encoded once: a list or dict that carries its own JSON text into a document's text.

An account document is written whole on every charge, and on an account with action
triggers most of its text is the triggers, which a charge does not change. Their text
is kept with the list (``EncodedList``) and ``encode_document`` splices it in instead of
encoding the same dicts again. The list stays an ordinary list for every reader; its
owner guarantees that ``text`` is ``jsoncodec.encode`` of its items (the account model
never changes a trigger document in place, it replaces it).

A settled ``*prepaid`` call's EventCost is stored twice, as its session cost's
CostDetails and as its CDR's, in the same StorDB call: an ``EncodedDict`` is encoded
for the first and its text reused for the second (``json_text``). So is a session's
debit: its idempotency record, then in its journal note (a list holding it).
"""

from fs_cgr import jsoncodec


class EncodedList(list):
    """A list with ``text``, its exact ``jsoncodec.encode``."""

    __slots__ = ("text",)

    def __init__(self, items, text: str):
        super().__init__(items)
        self.text = text


def encode_document(doc: dict, key: str) -> str:
    """``jsoncodec.encode(doc)`` where ``doc[key]`` may be an EncodedList: its text is used
    as it is (the same JSON, that key last)."""
    value = doc.get(key)
    if value.__class__ is not EncodedList:
        return jsoncodec.encode(doc)
    head = jsoncodec.encode({name: item for name, item in doc.items() if name != key})
    comma = "," if len(head) > 2 else ""
    return f"{head[:-1]}{comma}{jsoncodec.encode(key)}:{value.text}}}"


class EncodedDict(dict):
    """A dict that keeps its ``jsoncodec.encode`` once asked for it (``json_text``): its
    owner never changes it after it was made."""

    __slots__ = ("text",)

    def __init__(self, items):
        super().__init__(items)
        self.text = None


def json_text(value) -> str:
    """``jsoncodec.encode(value)``; an EncodedDict's text is encoded once, also as an item
    of a list (the other items are encoded one by one: meant for short lists)."""
    if value.__class__ is EncodedDict:
        if value.text is None:
            value.text = jsoncodec.encode(value)
        return value.text
    if value.__class__ is list and any(item.__class__ is EncodedDict for item in value):
        return "[" + ",".join(map(_item_text, value)) + "]"
    return jsoncodec.encode(value)


def _item_text(item) -> str:
    if item.__class__ is int:  # as the encoder prints it (not a bool: another class)
        return int.__repr__(item)
    return json_text(item)
