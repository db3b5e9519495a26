"""A call ended while the DataDB does not answer is settled by the same process when it
answers again, with its real usage, once (issue 8, point 1; sessions.md)."""

from decimal import Decimal

import pytest

from fs_cgr.durations import SECOND
from fs_cgr.errors import StorageUnavailable
from fs_cgr.sessions import service
from tests.cdrs.helpers import call, monetary, top_up
from tests.fssim import wait_until


class Outage:
    """Makes the node's DataDB refuse every account and journal step while ``down``."""

    STEPS = (
        "journal_put", "journal_append", "journal_delete", "cas_account", "get_account",
        "account_ids",
    )  # fmt: skip

    def __init__(self, datadb, monkeypatch):
        self.down = False
        for name in self.STEPS:
            real = getattr(datadb, name)
            monkeypatch.setattr(datadb, name, self._guard(real))

    def _guard(self, real):
        def step(*args, **kwargs):
            if self.down:
                raise StorageUnavailable("redis: connection refused")
            return real(*args, **kwargs)

        return step


@pytest.fixture
def outage(embedded, monkeypatch):
    monkeypatch.setattr(service, "SETTLE_RETRY_FIRST", 0.05)
    return Outage(embedded.datadb, monkeypatch)


def test_terminate_during_an_outage_is_settled_when_the_datadb_answers(embedded, outage):
    node = embedded
    top_up(node, "1001", 10)
    event = call("outage-1", RequestType="*prepaid", Usage="120s", CGRDebitInterval="0s")
    node.sessions.initiate(event)
    assert monetary(node, "1001") == Decimal("9.2998")  # 2 minutes reserved

    outage.down = True
    with pytest.raises(StorageUnavailable):
        node.sessions.terminate(dict(event, Usage="90s", DisconnectCause="NORMAL_CLEARING"))
    with pytest.raises(StorageUnavailable, match="settling when the DataDB answers"):
        node.sessions.terminate(dict(event, Usage="10s"))  # the first facts stay
    assert node.sessions.active() == [] and node.cdrs.count_cdrs({}) == 0

    outage.down = False
    (cdr,) = wait_until(lambda: node.cdrs.get_cdrs({"OriginIDs": ["outage-1"]}), 5, "the CDR")
    assert (cdr["Usage"], cdr["Cost"]) == (90 * SECOND, Decimal("0.6501"))
    assert cdr["ExtraFields"]["DisconnectCause"] == "NORMAL_CLEARING"
    assert monetary(node, "1001") == 10 - cdr["Cost"]
    assert node.sessions.terminate(dict(event, Usage="10s")).costs == {
        "*default": Decimal("0.6501")
    }  # a repeat answers the first result, charging nothing
    assert monetary(node, "1001") == 10 - cdr["Cost"]
    wait_until(lambda: node.datadb.journal_all() == [], 5, "the journal entry to go")
