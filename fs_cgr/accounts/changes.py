"""The one hook for "an account changed": listeners run after the write, never inside it.

``AccountService`` calls ``AccountChanges.notify(tenant, account, doc, previous)`` after every
successful compare-and-set (a call's debit, a CDR, the API, a scheduled action,
a trigger's own actions). Notifying only puts the change on a queue; one worker
(a thread, a greenlet once gevent monkey-patched the process) calls every
listener with ``(tenant, account_id, doc, previous)`` later, in the order the changes
were written (``previous``: the Account as it was before, None for a new one; never
changed after, so it is handed over as it is). A listener that is slow or raises is
logged and never delays, fails or deadlocks the change that told it: the account's
lock was released before it ran. A listener may come with ``wants(doc)``, a cheap look at
the written document (under the account's lock): a change that no listener wants is not
queued at all, so a charge of an account without triggers costs no worker wake-up.
"""

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Listener = Callable[[str, str, dict, object], None]
MAX_PENDING = 100_000  # changes waiting for listeners; beyond this new ones are not told
IDLE_EXIT = 30.0  # seconds without changes after which the worker ends (started again on need)


class AccountChanges:
    def __init__(self):
        self._listeners: list[Listener] = []
        self._always = 0  # listeners told every change
        self._wants: list[Callable[[dict], bool]] = []  # the others': which changes to tell
        self._queue: queue.Queue = queue.Queue(MAX_PENDING)
        self._progress = threading.Condition()
        self._queued = 0  # sequence number of the last change queued
        self._handled = 0  # ... and of the last one every listener has seen
        self._last: dict[str, int] = {}  # "tenant:account" -> its last change not yet handled
        self._worker: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def add(self, listener: Listener, wants: Callable[[dict], bool] | None = None) -> None:
        """Call ``listener(tenant, account_id, doc, previous)`` after every change of an
        account; with ``wants``, at least after every change whose document it wants (it is
        told the others too when another listener wants them)."""
        if wants is None:
            self._always += 1
        else:
            self._wants.append(wants)
        self._listeners.append(listener)

    def notify(self, tenant: str, account: str, doc: dict, previous=None) -> None:
        """Queue the change for the listeners (none wants it: nothing to do); returns at once
        (drops it, logged, when the listeners are MAX_PENDING changes behind)."""
        if not self._always and not any(wants(doc) for wants in self._wants):
            return
        key = f"{tenant}:{account}"
        with self._progress:
            sequence = self._queued + 1
            try:
                self._queue.put_nowait((sequence, tenant, account, doc, previous))
            except queue.Full:
                log.error("account %s changed while %d changes wait: not told", key, MAX_PENDING)
                return
            self._queued = sequence
            self._last[key] = sequence
        self._ensure_worker()

    def wait(
        self, tenant: str | None = None, account: str | None = None, timeout: float = 5.0
    ) -> bool:
        """Wait until the listeners handled every change queued so far of this account (of
        all accounts when none is named): API reads answer with the account as its
        triggers left it, as CGrateS (which runs them inside the change). Changes queued
        later are not waited for. False on timeout."""
        with self._progress:
            last = self._last.get(f"{tenant}:{account}", 0)
            target = self._queued if account is None else last
            return self._progress.wait_for(lambda: self._handled >= target, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Let the listeners finish what is queued (up to ``timeout``), then end the worker."""
        self.wait(timeout=timeout)
        with self._start_lock:
            worker, self._worker = self._worker, None
            if worker is None:
                return
            self._queue.put(None)  # only that worker reads it: it ends there
        worker.join(timeout)

    def _ensure_worker(self) -> None:
        if self._worker is None:
            with self._start_lock:
                if self._worker is None:
                    self._worker = threading.Thread(
                        target=self._run, name="account-changes", daemon=True
                    )
                    self._worker.start()

    def _run(self) -> None:
        while True:
            try:
                change = self._queue.get(timeout=IDLE_EXIT)
            except queue.Empty:
                with self._start_lock:
                    if self._queue.empty():  # a change queued meanwhile keeps the worker on
                        self._worker = None
                        return
                continue
            if change is None:
                return
            sequence, tenant, account, doc, previous = change
            for listener in list(self._listeners):
                try:
                    listener(tenant, account, doc, previous)
                except Exception:
                    log.exception(
                        "account %s:%s: change listener %r failed", tenant, account, listener
                    )
            self._done(f"{tenant}:{account}", sequence)

    def _done(self, key: str, sequence: int) -> None:
        with self._progress:
            self._handled = sequence
            if self._last.get(key) == sequence:
                del self._last[key]
            self._progress.notify_all()
