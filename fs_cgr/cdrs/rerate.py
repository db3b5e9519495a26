"""Charging a stored CDR run again after a tariff fix (``CDRsV1.RateCDRs`` with ``*rerate``).

Every charge of a run has its own idempotency key, its generation: the CDR
path's ``cdr:<CGRID>:<RunID>`` first, then ``...:rerate:<n>`` for the n-th
re-charge. Only the latest generation is ever left unrefunded: a re-charge
refunds it (key ``<generation>:refund``, the connect fee included, and its
rounding adjustment with ``<generation>:round:refund``) before the next
generation debits the new price. Interrupted anywhere, running it again
repairs it: the refunds repeat their keys (nothing moves twice) and the debit
goes to a fresh generation, so the account always pays the run once.
"""

import logging

from fs_cgr.accounts.debit import Adjustment, Debit
from fs_cgr.cdrs.rater import debit_key_of

log = logging.getLogger(__name__)


class Recharger:
    def __init__(self, node, rater):
        self.node = node
        self.rater = rater

    def recharge(self, run: dict) -> dict:
        """The run refunded (when charged) and priced and debited anew: its new CDR."""
        base = debit_key_of(run)
        latest, generation = self._latest(run["Tenant"], run["Account"], base)
        if latest is None:
            return self.rater.rate(run, debit_key=base)
        self._refund(run["Tenant"], run["Account"], latest)
        return self.rater.rate(run, debit_key=f"{base}:rerate:{generation + 1}")

    def _latest(self, tenant: str, account: str, base: str) -> tuple[str | None, int]:
        """(key, number) of the run's latest charge; (None, -1) when it was never charged."""
        latest, generation = None, -1
        while True:
            key = base if generation < 0 else f"{base}:rerate:{generation + 1}"
            if self.node.accounts.stored_result(tenant, account, key) is None:
                return latest, generation
            latest, generation = key, generation + 1

    def _refund(self, tenant: str, account: str, key: str) -> None:
        accounts = self.node.accounts
        debit = Debit.from_doc(accounts.stored_result(tenant, account, key))
        refund = accounts.refund(debit, 0, key + ":refund")
        if refund.missing:
            log.warning("re-rating %s: balances gone, not refunded: %s", key, refund.missing)
        rounding = accounts.stored_result(tenant, account, key + ":round")
        if rounding is not None:
            amount = Adjustment.from_doc(rounding).amount
            if amount:
                accounts.adjust(tenant, account, -amount, key + ":round:refund")
