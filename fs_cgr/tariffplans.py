"""Changing what the node rates with: folders, stored tariff plans, single live objects.

Every change to the live objects goes through ``TariffPlanService.apply_live``:
the current live objects plus the change are compiled first, and only a plan
that compiles is written, in one ``DataDB.write_live`` call. A bad row or a
dangling reference therefore changes nothing, and the node keeps rating with
the plan it had.
"""

import logging
import os
import threading
from collections.abc import Callable, Iterable
from decimal import Decimal

from fs_cgr.accounts import triggers
from fs_cgr.accounts.actions import check_live
from fs_cgr.errors import CGRError, MandatoryMissing, NotFound
from fs_cgr.filter_references import check_filter_references
from fs_cgr.folder_access import allowed_folder
from fs_cgr.jsoncodec import encode, encode_stepwise
from fs_cgr.offload import collection_paused, off_the_loop, on_the_loop
from fs_cgr.rating import RatingEngine, TariffPlanError, load_folder
from fs_cgr.scheduler import plans
from fs_cgr.storage.base import (
    DESTINATION_RATES,
    DESTINATIONS,
    LIVE_KINDS,
    RATES,
    RATING_PLANS,
    RATING_PROFILES,
    STAT_QUEUE_PROFILES,
    THRESHOLD_PROFILES,
    TIMINGS,
    decode_live,
)
from fs_cgr.storage.checks import EncodedDoc

log = logging.getLogger(__name__)

ANY = "*any"

TP_KINDS = LIVE_KINDS


class InvalidPath(CGRError):
    code = "INVALID_PATH"


Change = tuple[str, str, dict | None]


class TariffPlanService:
    def __init__(self, node):
        self.node = node
        self._lock = threading.RLock()  # one change at a time per node: each compiles the whole

    # -- live objects ----------------------------------------------------------
    def apply_live(self, changes: Iterable[Change], dry_run: bool = False) -> int:
        """Validate ``(kind, id, doc or None)`` changes against the live plan, then write them.

        Returns the new live version (the current one on ``dry_run``). Raises
        TariffPlanError (nothing written) when the result would not compile, and
        InvalidArgument when an action or action plan could not run.
        """
        changes = list(changes)
        return self.change_live(lambda live: changes, dry_run)

    def change_live(
        self, make_changes: Callable[[dict], Iterable[Change]], dry_run=False, checked=None
    ) -> int:
        """Like ``apply_live`` for read-modify-write: ``make_changes(live)`` runs under this
        node's lock, so two requests of this node cannot overwrite each other's change.
        ``checked()``, when given, runs once the result passed every check (in the worker
        thread, before the write): to let go of what only an error message would need."""
        datadb = self.node.datadb
        with self._lock:
            live_version = datadb.live_version()
            # a big plan takes seconds to decode, check and compile: beside the loop
            # (fs_cgr.offload); the documents read here are _checked's alone, dropped early
            changes, engine = off_the_loop(
                _checked, datadb.read_live_texts(), make_changes, checked
            )
            if dry_run or not changes:
                return datadb.live_version()
            version = datadb.write_live(changes)
        if version == live_version + 1:  # nobody else wrote meanwhile: what we compiled is live
            self.node.rating.install(engine, version)
        else:
            self.node.rating.refresh()
        return version

    def live(self) -> dict[str, dict[str, dict]]:
        """Every live object as the DataDB holds it now."""
        return self.node.datadb.read_live()

    def live_object(self, kind: str, obj_id: str) -> dict:
        doc = self.live().get(kind, {}).get(obj_id)
        if doc is None:
            raise NotFound()
        return doc

    # -- folders ---------------------------------------------------------------
    def allowed_folder(self, path) -> str:
        """``path`` resolved, when it lies below ``tariffplans.base_dirs`` (API callers)."""
        return allowed_folder(path, self.node.config.tariffplans.base_dirs)

    def load_folder(self, path, dry_run: bool = False) -> None:
        """Load a CGrateS CSV folder: validate, write atomically, then run its AccountActions.

        Reading and compiling run beside the event loop (``fs_cgr.offload``), so the API and
        calls go on during a big load; a compile error names the file and line it is about.
        The parsed documents are handed over to the check (``_handed_over``), which drops
        each one once encoded: a big plan is not held parsed and encoded at once.
        """
        folder = _existing_folder(path)
        progress = on_the_loop(lambda rows: log.info("tariff plan %s: %d rows read", folder, rows))
        with collection_paused():
            plan = off_the_loop(load_folder, folder, progress)
            stat_profiles = plan.live.get(STAT_QUEUE_PROFILES, {})
            threshold_profiles = plan.live.get(THRESHOLD_PROFILES, {})
            count = sum(map(len, plan.live.values()))
            self.node.stats.check_profiles(stat_profiles)
            try:
                self.change_live(
                    lambda live: _handed_over(plan.live), dry_run, checked=plan.origins.clear
                )
            except TariffPlanError as exc:
                raise plan.locate(exc) from None
        if not dry_run:  # loaded stat queues and thresholds start afresh, as in CGrateS
            self.node.stats.reset_queues(stat_profiles)
            self.node.thresholds.reset_thresholds(threshold_profiles)
        log.info("tariff plan %s: %d objects %s", folder, count, "checked" if dry_run else "loaded")
        if plan.account_actions and not dry_run:
            self.node.accounts.execute_account_actions(plan.account_actions)

    def remove_folder(self, path) -> None:
        """Delete what the folder defines (objects and its AccountActions' accounts).

        Objects already gone are skipped. Objects from elsewhere that used a removed
        one lose that row (and go when none is left), as CGrateS could no longer rate
        them either; so the live plan stays usable.
        """
        plan = load_folder(_existing_folder(path))

        def removals(live: dict) -> list[Change]:
            deletes = [
                (kind, obj_id, None)
                for kind, objects in plan.live.items()
                for obj_id in objects
                if obj_id in live.get(kind, {})
            ]
            return deletes + _dangling(_merged(live, deletes))

        self.change_live(removals)
        self.node.stats.remove_queues(plan.live.get(STAT_QUEUE_PROFILES, {}))
        self.node.thresholds.remove_thresholds(plan.live.get(THRESHOLD_PROFILES, {}))
        for action in plan.account_actions:
            self.node.accounts.remove_account(action["Tenant"], action["Account"])

    # -- stored tariff plans (TP* API) -----------------------------------------
    def set_tp(self, tpid: str, kind: str, obj_id: str, doc: dict) -> None:
        self.node.stordb.set_tp(tpid, _tp_kind(kind), obj_id, _stored(doc))

    def get_tp(self, tpid: str, kind: str, obj_id: str) -> dict:
        doc = self.node.stordb.get_tp(tpid, _tp_kind(kind), obj_id)
        if doc is None:
            raise NotFound()
        return doc

    def tp_ids(self, tpid: str, kind: str) -> list[str]:
        ids = self.node.stordb.get_tp_ids(tpid, _tp_kind(kind))
        if not ids:
            raise NotFound()
        return sorted(ids)

    def remove_tp(self, tpid: str, kind: str, obj_id: str) -> None:
        if not self.node.stordb.remove_tp(tpid, _tp_kind(kind), obj_id):
            raise NotFound()

    def load_from_stordb(self, tpid: str, dry_run: bool = False) -> int:
        """Copy every object of ``tpid`` to the live plan (validated, one atomic write).

        A TPid with nothing stored loads nothing and is no error, as in CGrateS
        (whose loader skips every kind it finds empty); it is logged, since it is
        most often a typo."""
        stored = {kind: self.node.stordb.get_tp_all(tpid, kind) for kind in TP_KINDS}
        if not any(stored.values()):
            log.warning("LoadTariffPlanFromStorDb: TPid %r holds nothing; nothing loaded", tpid)
            return 0
        stored[RATING_PROFILES] = _live_rating_profiles(stored[RATING_PROFILES])
        return self.apply_live(_upserts(stored), dry_run=dry_run)


def _checked(texts: dict, make_changes, checked=None) -> tuple[list, RatingEngine]:
    """The changes to the live plan (``texts``, as read) encoded as stored and the engine
    of the plan they make; raises when that plan does not compile or its actions could
    not run.

    Once merged, the live plan and the merged one are let go, and each change's document
    once encoded, so that the old plan's documents, the new ones and their text are not
    all held at once."""
    live = decode_live(texts)
    texts.clear()
    changes = [(kind, key, _stored(doc)) for kind, key, doc in make_changes(live)]
    merged = _merged(live, changes)
    live.clear()
    engine = RatingEngine.compile(merged)
    check_filter_references(changes, merged)
    check_live(merged)  # actions that could not run are refused before the write
    triggers.check_live(merged)
    plans.check_live(merged)
    del merged
    if checked is not None:
        checked()
    encoded = []
    for index, (kind, key, doc) in enumerate(changes):
        encoded.append((kind, key, doc and EncodedDoc(_encoded(doc))))
        changes[index] = None
    return encoded, engine


_BIG_LIST = 10_000  # rows in one document that the C JSON encoder would hold the lock for


def _encoded(doc: dict) -> str:
    """A document as stored; a big one (say one DestinationRates of a million rows)
    by the stepwise encoder, so the loop's thread keeps running meanwhile."""
    if any(isinstance(value, list) and len(value) > _BIG_LIST for value in doc.values()):
        return encode_stepwise(doc)
    return encode(doc)


def _handed_over(objects: dict[str, dict[str, dict]]):
    """``_upserts`` of ``objects``, emptying it kind by kind on the way: the caller's
    plan no longer holds the documents the check goes on to drop."""
    for kind in list(objects):
        for obj_id, doc in objects.pop(kind).items():
            yield kind, obj_id, doc


def rating_profile_id(doc: dict) -> str:
    """Live id of a rating profile: ``tenant:category:subject``."""
    return f"{doc['Tenant']}:{doc['Category']}:{doc['Subject']}"


def _live_rating_profiles(stored: dict[str, dict]) -> dict[str, dict]:
    """StorDB keeps one profile per LoadId; live holds their activations together."""
    live: dict[str, dict] = {}
    for stored_id in sorted(stored):
        doc = stored[stored_id]
        key = rating_profile_id(doc)
        profile = live.setdefault(
            key,
            {
                "Tenant": doc["Tenant"],
                "Category": doc["Category"],
                "Subject": doc["Subject"],
                "RatingPlanActivations": [],
            },
        )
        profile["RatingPlanActivations"].extend(doc.get("RatingPlanActivations") or [])
    return live


# Which rows point at which objects, as the compiler resolves them:
# (kind, list field, reference field, referenced kind, ids that need no object).
_REFERENCES = (
    (DESTINATION_RATES, "DestinationRates", "DestinationId", DESTINATIONS, {ANY}),
    (DESTINATION_RATES, "DestinationRates", "RateId", RATES, set()),
    (RATING_PLANS, "RatingPlanBindings", "DestinationRatesId", DESTINATION_RATES, set()),
    (RATING_PLANS, "RatingPlanBindings", "TimingId", TIMINGS, {ANY, ""}),
    (RATING_PROFILES, "RatingPlanActivations", "RatingPlanId", RATING_PLANS, set()),
)


def _dangling(live: dict) -> list[Change]:
    """Changes that drop rows pointing at missing objects; _REFERENCES is in dependency
    order, so one pass also drops what pointed at an object dropped for being empty."""
    live = {kind: dict(objects) for kind, objects in live.items()}
    changed: dict[tuple[str, str], dict | None] = {}
    for kind, rows_field, ref_field, target, builtin in _REFERENCES:
        for obj_id, doc in list(live.get(kind, {}).items()):
            rows = doc.get(rows_field) or []
            kept = [
                row
                for row in rows
                if str(row.get(ref_field) or "").strip() in builtin
                or str(row.get(ref_field) or "").strip() in live.get(target, {})
            ]
            if len(kept) == len(rows):
                continue
            new_doc = {**doc, rows_field: kept} if kept else None
            changed[(kind, obj_id)] = new_doc
            if new_doc is None:
                del live[kind][obj_id]
            else:
                live[kind][obj_id] = new_doc
    return [(kind, obj_id, doc) for (kind, obj_id), doc in changed.items()]


def _existing_folder(path) -> str:
    if not path:
        raise MandatoryMissing("FolderPath")
    folder = os.path.abspath(os.fspath(path))
    if not os.path.isdir(folder):
        raise InvalidPath()
    return folder


def _tp_kind(kind: str) -> str:
    if kind not in TP_KINDS:
        raise ValueError(f"unknown tariff plan kind {kind!r}")
    return kind


def _upserts(objects: dict[str, dict[str, dict]]) -> list[Change]:
    return [(kind, obj_id, doc) for kind, docs in objects.items() for obj_id, doc in docs.items()]


def _merged(live: dict, changes: list[Change]) -> dict:
    merged = {kind: dict(objects) for kind, objects in live.items()}
    for kind, obj_id, doc in changes:
        objects = merged.setdefault(kind, {})
        if doc is None:
            objects.pop(obj_id, None)
        else:
            objects[obj_id] = doc
    return merged


def _stored(doc: dict | None) -> dict | None:
    """Documents are stored JSON-able (money as decimal strings) and without their TPid."""
    if doc is None:
        return None
    if "TPid" not in doc and _plain(doc):  # a CSV load's documents: no copy of a big plan
        return doc
    return {key: _jsonable(value) for key, value in doc.items() if key != "TPid"}


def _plain(value) -> bool:
    """Whether ``value`` holds no Decimal (and no tuple) anywhere: stored as it is."""
    if isinstance(value, dict):
        return all(_plain(item) for item in value.values())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return not isinstance(value, (Decimal, tuple))


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value
