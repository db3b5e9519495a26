"""The two small interfaces every backend implements.

DataDB holds hot data shared by every fs_cgr node: the live tariff objects,
accounts (balances), idempotency records and the session journal. Documents
are plain JSON-able dicts (money as decimal strings), so storage never needs
the domain classes.

StorDB holds what is kept: stored tariff plans (TP* API), CDRs and session
costs.

Every call may raise ``fs_cgr.errors.StorageUnavailable`` when the backend does
not answer within its timeout; callers decide what that means for the call.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterable

from fs_cgr import jsoncodec

# How long a remembered idempotent result outlives its write (seconds) when its owner
# never drops it. It must outlast every retry of that write: a pending session debit is
# asked again when the journal is recovered after a restart, a scheduler run left
# half-done is taken up again by the next node to start, a call's CDR may come twice
# (two nodes, a repeated hangup event), an interrupted rerate is run again. A day
# covers a node or the whole cluster being down overnight, well past the longest call
# (sessions.max_call_duration, 3 h by default), while bounding what the keys take:
# settled sessions drop theirs at once (sessions/service.py), so the TTL mostly holds
# CDR and scheduler keys. Configurable per DataDB (``idempotency_ttl``).
IDEMPOTENCY_TTL = 24 * 3600

JOURNAL_APPENDED = "Appended"  # journal_all: the documents appended to a record

# Kinds of live tariff objects kept in the DataDB (document id = CGrateS ID,
# or "tenant:id" for tenant-scoped profiles).
DESTINATIONS = "destinations"
TIMINGS = "timings"
RATES = "rates"
DESTINATION_RATES = "destination_rates"
RATING_PLANS = "rating_plans"
RATING_PROFILES = "rating_profiles"
ACTIONS = "actions"
ACTION_PLANS = "action_plans"
CHARGERS = "chargers"
ROUTES = "routes"
FILTERS = "filters"
STAT_QUEUE_PROFILES = "stat_queue_profiles"
THRESHOLD_PROFILES = "threshold_profiles"
ATTRIBUTES = "attributes"
RESOURCES = "resources"
ACTION_TRIGGERS = "action_triggers"
LIVE_KINDS = (
    DESTINATIONS,
    TIMINGS,
    RATES,
    DESTINATION_RATES,
    RATING_PLANS,
    RATING_PROFILES,
    ACTIONS,
    ACTION_PLANS,
    CHARGERS,
    ROUTES,
    FILTERS,
    STAT_QUEUE_PROFILES,
    THRESHOLD_PROFILES,
    ATTRIBUTES,
    RESOURCES,
    ACTION_TRIGGERS,
)

# Kinds of state documents (``DataDB.get_state`` / ``cas_state``): what services count
# while they run, id "tenant:ID" like their profiles.
STAT_QUEUES = "stat_queues"
THRESHOLDS = "thresholds"


def decode_live(texts: dict[str, dict[str, str]]) -> dict[str, dict[str, dict]]:
    """``read_live_texts``' answer decoded, as ``read_live`` gives it."""
    return {
        kind: {obj_id: jsoncodec.decode(text) for obj_id, text in objects.items()}
        for kind, objects in texts.items()
    }


def with_appended(record: dict, appended: list) -> dict:
    """A journal record as ``journal_all`` gives it: with its appended JSON documents."""
    if appended:
        record[JOURNAL_APPENDED] = [jsoncodec.decode(text) for text in appended]
    return record


class CasResult:
    """Outcome of ``DataDB.cas_account``.

    ``applied``: the new document was written (version bumped).
    ``duplicate``: the idempotency key was seen before; ``stored`` is the
    result saved with it and nothing was written now.
    ``conflict``: the version moved on; ``doc`` and ``version`` are the account as it is
    now (None and 0 when it does not exist), so a retry needs no separate read.

    ``version`` is the account's version after the step (0 = no account).
    """

    __slots__ = ("status", "stored", "version", "doc")

    def __init__(self, status: str, stored=None, version: int = 0, doc: dict | None = None):
        self.status = status
        self.stored = stored
        self.version = version
        self.doc = doc

    applied = property(lambda self: self.status == "applied")
    duplicate = property(lambda self: self.status == "duplicate")
    conflict = property(lambda self: self.status == "conflict")

    def __repr__(self):
        return f"CasResult({self.status!r}, version={self.version})"


class DataDB(ABC):
    # -- live tariff objects -------------------------------------------------
    @abstractmethod
    def live_version(self) -> int:
        """A counter bumped by every ``write_live``; nodes reload when it moves."""

    def read_live(self, kinds: Iterable[str] = LIVE_KINDS) -> dict[str, dict[str, dict]]:
        """Every live object of ``kinds`` (all LIVE_KINDS by default): ``{kind: {id: doc}}``,
        one consistent snapshot."""
        return decode_live(self.read_live_texts(kinds))

    @abstractmethod
    def read_live_texts(self, kinds: Iterable[str] = LIVE_KINDS) -> dict[str, dict[str, str]]:
        """``read_live`` with each document as its stored JSON text: a big plan takes
        seconds to decode, which a caller does beside the event loop (``decode_live``)."""

    @abstractmethod
    def write_live(self, changes: Iterable[tuple[str, str, dict | None]]) -> int:
        """Apply ``(kind, id, doc)`` upserts (doc None = delete) atomically: readers see
        all of them or none. A big write must not hold the event loop for its whole length.

        Returns the new version."""

    # -- accounts --------------------------------------------------------------
    # Versions count every write of an account key and never go back, not even when the
    # account is removed and created again, or after ``flush``: a version names one state
    # of one account for ever, so a cached (doc, version) can only be stale, never wrong.

    def get_account(self, tenant: str, account: str) -> tuple[dict, int] | None:
        """The account document and its version (> 0), or None."""
        return self.get_account_unless(tenant, account, None)

    @abstractmethod
    def get_account_unless(
        self, tenant: str, account: str, version: int | None
    ) -> tuple[dict | None, int] | None:
        """``get_account``, but with None for the document while the store still holds
        ``version``: a caller holding that state already (AccountService's known accounts)
        is spared decoding it again."""

    def get_accounts(self, keys: list[tuple[str, str]]) -> list[tuple[dict, int] | None]:
        """``get_account`` of many ``(tenant, account)`` at once (backends may batch it)."""
        return [self.get_account(tenant, account) for tenant, account in keys]

    @abstractmethod
    def cas_account(
        self,
        tenant: str,
        account: str,
        expected_version: int,
        doc: dict,
        idempotency_key: str | None = None,
        result=None,
    ) -> CasResult:
        """One atomic step: write ``doc`` only if the version is still ``expected_version``
        (0 = the account must not exist) and the idempotency key is unseen; then remember
        ``result`` under the key (JSON-able) so a retried debit returns it unchanged.

        The new version is one more than the highest this account key ever had. On a
        conflict the result carries the current document and version."""

    @abstractmethod
    def forget_idempotency(self, tenant: str, account: str, keys: Iterable[str]) -> None:
        """Drop the results remembered under ``keys`` of the account, once their owner
        knows no retry can come any more (a settled session: see sessions/service.py).
        Unknown keys are ignored; keys nobody drops still expire (IDEMPOTENCY_TTL)."""

    @abstractmethod
    def remove_account(self, tenant: str, account: str) -> bool:
        """Delete the account; its version counter stays, so an account created again
        goes on from there."""

    @abstractmethod
    def account_ids(self, tenant: str | None = None) -> list[str]:
        """``tenant:account`` ids, sorted."""

    # -- session journal (crash recovery) --------------------------------------
    # A record is a document (``journal_put`` replaces it whole) plus the small documents
    # appended to it since (``journal_append``: one cheap write per debit instead of the
    # whole record again). ``journal_all`` gives each record with its appended documents,
    # in append order, under ``JOURNAL_APPENDED`` (absent when none); ``journal_put`` drops them.

    @abstractmethod
    def journal_put(self, session_id: str, doc: dict) -> None: ...

    @abstractmethod
    def journal_append(self, session_id: str, doc) -> None: ...

    @abstractmethod
    def journal_delete(self, session_id: str) -> None: ...

    @abstractmethod
    def journal_all(self) -> list[dict]: ...

    # -- state documents (stat queues, thresholds) ------------------------------
    # Versioned like accounts, so every node changes them by compare-and-set and no
    # concurrent update is lost. A removed document keeps its version counter.

    @abstractmethod
    def get_state(self, kind: str, obj_id: str) -> tuple[dict, int] | None:
        """The document and its version (> 0), or None."""

    @abstractmethod
    def cas_state(self, kind: str, obj_id: str, expected_version: int, doc) -> CasResult:
        """Write ``doc`` (None = remove) only if the version is still ``expected_version``
        (0 = the document must not exist). A conflict carries the current doc and version."""

    @abstractmethod
    def state_ids(self, kind: str) -> list[str]:
        """Ids of the existing documents of ``kind``, sorted."""

    # -- resource usages (ResourceS) ---------------------------------------------
    # A usage is (units, expiry in µs since the epoch or 0 = never, owner). One
    # ``resource_allocate`` is atomic across every node sharing the DataDB.

    @abstractmethod
    def resource_allocate(
        self,
        tenant: str,
        limits: list,
        usage_id: str,
        units: float,
        now_us: int,
        dry_run: bool = False,
        owner: str = "",
    ) -> int:
        """``limits``: ``[(resource_id, limit or -1 = none, ttl_us)]`` by Weight. In one
        step: drop expired usages, count each resource's units (this usage_id left out
        unless ``dry_run``), find the first resource with room; unless ``dry_run`` and one
        has room, record the usage on every resource (ttl_us 0: not recorded, < 0: never
        expires). Returns that first index, or -1 (nothing written)."""

    @abstractmethod
    def resource_release(self, tenant: str, resource_ids: list, usage_id: str) -> list[bool]:
        """Remove the usage from each resource; per resource whether it held it."""

    @abstractmethod
    def resource_usages(self, tenant: str, resource_ids: list, now_us: int) -> dict:
        """``{resource_id: {usage_id: (units, expiry_us, owner)}}``, expired ones left out."""

    @abstractmethod
    def resource_owned(self, owner: str) -> list[tuple[str, str, str]]:
        """``(tenant, resource_id, usage_id)`` of every usage recorded with ``owner``."""

    # -- shared state of the nodes (scheduler runs, indexes) ----------------------------
    @abstractmethod
    def set_add(self, name: str, members: Iterable[str]) -> None:
        """Add to the named set of strings."""

    @abstractmethod
    def set_remove(self, name: str, members: Iterable[str]) -> None: ...

    @abstractmethod
    def set_members(self, name: str) -> set[str]: ...

    @abstractmethod
    def get_value(self, name: str) -> str | None:
        """A named string value (None = never set)."""

    @abstractmethod
    def set_value(self, name: str, value: str) -> None: ...

    @abstractmethod
    def claim(self, name: str, owner: str, ttl: float) -> bool:
        """Take (or, when ``owner`` holds it, extend) the lease ``name`` for ``ttl``
        seconds: True when ``owner`` holds it now. One atomic step, so of several nodes
        claiming at once exactly one wins; a holder that dies loses it after ``ttl``."""

    @abstractmethod
    def release(self, name: str, owner: str) -> None:
        """Give the lease up, if ``owner`` still holds it."""

    @abstractmethod
    def flush(self) -> None:
        """Remove everything this DataDB holds (tests, ``fs-cgr`` reset) but the counters
        that must never go back: the live version and the account versions."""

    def close(self) -> None:  # noqa: B027 - optional hook: most backends hold nothing
        """Release connections; a no-op for backends that hold none."""


class StorDB(ABC):
    # -- stored tariff plans (TP* API) -----------------------------------------
    @abstractmethod
    def set_tp(self, tpid: str, kind: str, obj_id: str, doc: dict) -> None: ...

    @abstractmethod
    def get_tp(self, tpid: str, kind: str, obj_id: str) -> dict | None: ...

    @abstractmethod
    def get_tp_ids(self, tpid: str, kind: str) -> list[str]: ...

    @abstractmethod
    def get_tp_all(self, tpid: str, kind: str) -> dict[str, dict]: ...

    @abstractmethod
    def remove_tp(self, tpid: str, kind: str | None = None, obj_id: str | None = None) -> int: ...

    @abstractmethod
    def tpids(self) -> list[str]: ...

    # -- CDRs ------------------------------------------------------------------
    @abstractmethod
    def store_cdrs(self, cdrs: list[dict]) -> int:
        """Insert rated CDRs; a (CGRID, RunID) already stored is left untouched.
        Return how many rows were new."""

    @abstractmethod
    def get_cdrs(self, query: dict) -> list[dict]:
        """CDRs matching a CGrateS-style filter (see fs_cgr.storage.cdr_query)."""

    @abstractmethod
    def count_cdrs(self, query: dict) -> int: ...

    @abstractmethod
    def update_cdrs(self, cdrs: list[dict]) -> int:
        """Overwrite the pricing (Cost, CostDetails, CostSource, ExtraInfo) of CDRs
        stored under the same (CGRID, RunID): re-rating. Return rows changed (MySQL
        does not count a row whose values stay the same)."""

    @abstractmethod
    def stored_runs(self, cgrids: list[str]) -> set[tuple[str, str]]:
        """The (CGRID, RunID) pairs stored for ``cgrids``: the duplicate check of the
        CDR path, which needs no more than these two columns."""

    # -- session costs (what a prepaid session really charged) -----------------
    @abstractmethod
    def set_session_cost(self, doc: dict) -> None:
        """Upsert by (CGRID, RunID)."""

    @abstractmethod
    def get_session_cost(self, cgrid: str, run_id: str) -> dict | None: ...

    @abstractmethod
    def flush(self) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional hook: most backends hold nothing
        """Release connections; a no-op for backends that hold none."""

    def run(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``, which makes several calls of this StorDB as one unit
        (the CDR group commit): a backend may hold what they share for the whole of it."""
        return fn(*args, **kwargs)
