"""JSON lists encoded once: a list that carries its own JSON text into a document's text.

An account document is written whole on every charge, and on an account with action
triggers most of its text is the triggers, which a charge does not change. Their text
is kept with the list (``EncodedList``) and ``encode_document`` splices it in instead of
encoding the same dicts again. The list stays an ordinary list for every reader; its
owner guarantees that ``text`` is ``jsoncodec.encode`` of its items (the account model
never changes a trigger document in place, it replaces it).
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
