"""A running fs_cgr node: its config, databases, live rating data and services.

Every service is built as ``Service(node)`` and reaches the others through the
node (``self.node.accounts``), so any of them can be replaced in a test. A
service may define ``start()`` and ``stop()``; the node calls them in order.
"""

import logging
import os
import threading
import time

from fs_cgr.accounts.service import AccountService
from fs_cgr.attributes.service import AttributeService
from fs_cgr.cdrc.service import Mediator
from fs_cgr.cdrs.service import CDRService
from fs_cgr.config import Config
from fs_cgr.errors import StorageUnavailable
from fs_cgr.offload import off_the_loop
from fs_cgr.rating import RatingEngine
from fs_cgr.resources.service import ResourceService
from fs_cgr.routes.service import RouteService
from fs_cgr.scheduler.service import Scheduler
from fs_cgr.sessions.service import SessionService
from fs_cgr.stats.service import StatService
from fs_cgr.storage import open_datadb, open_stordb
from fs_cgr.tariffplans import TariffPlanService
from fs_cgr.thresholds.service import ThresholdService

log = logging.getLogger(__name__)

LIVE_CHECK_INTERVAL = 0.5  # seconds between looks at the DataDB's live version


class LiveRating:
    """The compiled RatingEngine of the DataDB's live objects, kept current.

    Another node (or ``fs-cgr load`` elsewhere) may change the live objects at
    any time; ``engine`` looks at ``live_version()`` at most every
    LIVE_CHECK_INTERVAL seconds and recompiles when it moved.
    """

    def __init__(self, datadb, check_interval: float = LIVE_CHECK_INTERVAL):
        self.datadb = datadb
        self.check_interval = check_interval
        self._engine: RatingEngine | None = None
        self._version: int | None = None
        self._failed_version: int | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    @property
    def version(self) -> int | None:
        """The live version the current engine was compiled from."""
        return self._version

    @property
    def engine(self) -> RatingEngine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._reload()
        elif self._due() and self._lock.acquire(blocking=False):  # one refresher at a time;
            try:  # the other requests meanwhile rate with the engine they have
                self._reload()
            except StorageUnavailable as exc:  # rate with it until the DataDB answers
                self._checked_at = time.monotonic()
                log.warning("rating with live objects v%s: %s", self._version, exc.message)
            finally:
                self._lock.release()
        return self._engine

    def _due(self) -> bool:
        return time.monotonic() - self._checked_at >= self.check_interval

    def refresh(self) -> RatingEngine:
        """Recompile now: after this node changed the live objects, its next request sees them."""
        with self._lock:
            self._reload(force=True)
        return self._engine

    def install(self, engine: RatingEngine, version: int) -> None:
        """Rate with ``engine``, compiled by this node from live ``version`` as it wrote it
        (saves reading and compiling the whole plan again after a load)."""
        with self._lock:
            self._engine, self._version = engine, version
            self._checked_at = time.monotonic()

    def _reload(self, force: bool = False) -> None:
        version = self.datadb.live_version()
        self._checked_at = time.monotonic()
        unchanged = version in (self._version, self._failed_version)
        if self._engine is not None and unchanged and not force:
            return
        live = self.datadb.read_live()
        try:
            engine = off_the_loop(RatingEngine.compile, live)
        except Exception:
            if self._engine is None:
                raise
            self._failed_version = version
            log.exception(
                "live tariff objects v%s do not compile; still rating with v%s",
                version,
                self._version,
            )
            return
        self._engine, self._version = engine, version


class Node:
    """Everything one fs_cgr process runs, wired from a Config."""

    def __init__(self, config: Config | None = None):
        self.config = config or Config()
        os.makedirs(self.config.data_dir, exist_ok=True)
        self.datadb = open_datadb(self.config.datadb.url)
        self.stordb = open_stordb(self.config.stordb.url)
        self.rating = LiveRating(self.datadb)
        self.tariffplans = TariffPlanService(self)
        self.accounts = AccountService(self)
        self.cdrs = CDRService(self)
        self.sessions = SessionService(self)
        self.routes = RouteService(self)
        self.attributes = AttributeService(self)
        self.resources = ResourceService(self)
        self.thresholds = ThresholdService(self)
        self.stats = StatService(self)
        self.cdrc = Mediator(self)
        self.scheduler = Scheduler(self)
        self._started = False

    @property
    def services(self) -> list:
        return [
            self.tariffplans,
            self.accounts,
            self.cdrs,
            self.sessions,
            self.routes,
            self.thresholds,
            self.stats,
            self.cdrc,
            self.scheduler,
        ]

    def start(self) -> "Node":
        if not self._started:
            for service in self.services:
                if hasattr(service, "start"):
                    service.start()
            self._started = True
        return self

    def stop(self) -> None:
        """Stop the services (last started first), then close the databases."""
        if self._started:
            for service in reversed(self.services):
                if hasattr(service, "stop"):
                    try:
                        service.stop()
                    except Exception:
                        log.exception("stopping %s failed", type(service).__name__)
            self._started = False
        self.datadb.close()
        self.stordb.close()
