"""Stored CDRs a page at a time: export and re-rating never hold a whole result set.

Pages follow the StorDB's OrderID (insertion order) with a keyset bound
(``OrderIDStart`` = last seen + 1), so each page is one indexed range scan and
a CDR stored meanwhile is neither skipped nor seen twice. ``Limit`` and
``Offset`` of the query still apply to the whole stream; its ``OrderBy`` does
not (a stream is always in OrderID order).
"""

from collections.abc import Iterator

PAGE_SIZE = 1000


def iter_cdrs(stordb, query: dict, page_size: int = PAGE_SIZE) -> Iterator[dict]:
    """Every CDR matching the normalised ``query``, in OrderID order, ``page_size`` per read."""
    query = dict(query)
    remaining = query.pop("Limit", None)
    skip = query.pop("Offset", 0) or 0
    query["OrderBy"] = ("OrderID", False)
    start = query.get("OrderIDStart", 0)
    while remaining is None or remaining > 0:
        page = stordb.get_cdrs(dict(query, OrderIDStart=start, Limit=page_size))
        for cdr in page:
            if skip:
                skip -= 1
                continue
            if remaining is not None:
                if remaining == 0:
                    return
                remaining -= 1
            yield cdr
        if len(page) < page_size:
            return
        start = page[-1]["OrderID"] + 1


def pages(items: Iterator, size: int) -> Iterator[list]:
    """``items`` in lists of up to ``size``."""
    page = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page
