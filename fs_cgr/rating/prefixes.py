"""Longest-prefix matching over a dict keyed by prefix.

A lookup tries the number's prefixes from the longest length present in the index
down to the shortest: one dict probe per distinct prefix length, no tree walking.
"""


class PrefixIndex:
    """Immutable map prefix -> value with longest-prefix-first lookups."""

    __slots__ = ("_table", "_lengths")

    def __init__(self, table: dict):
        """Takes ``table`` over: the caller must not change it afterwards."""
        self._table = table
        self._lengths = tuple(sorted({len(prefix) for prefix in self._table}, reverse=True))

    def __len__(self):
        return len(self._table)

    def longest(self, number: str):
        """(prefix, value) of the longest prefix of ``number`` in the index, or None."""
        table = self._table
        size = len(number)
        for length in self._lengths:
            if length <= size:
                value = table.get(number[:length])
                if value is not None:
                    return number[:length], value
        return None

    def matches(self, number: str):
        """Every (prefix, value) matching ``number``, longest first."""
        table = self._table
        size = len(number)
        for length in self._lengths:
            if length <= size:
                value = table.get(number[:length])
                if value is not None:
                    yield number[:length], value
