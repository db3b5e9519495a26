"""thresholds.account_updates: account changes reach ThresholdS through the accounts'
change hook, off the debit's path, and a threshold's own top-up does not feed itself."""

from decimal import Decimal as D

from tests.thresholds.test_thresholds import TENANT, bonus, threshold, topup_actions

LOW_BALANCE = ["*string:~*req.EventType:BalanceUpdate", "*lt:~*req.Units:1"]


def _low_balance_node(nodes, **settings):
    node = nodes.new(**settings)
    topup_actions(node, units="5")
    node.accounts.set_account(TENANT, "1001")
    node.accounts.add_balance(TENANT, "1001", "*monetary", D("1.5"), {"ID": "main"})
    node.thresholds.set_profile(threshold("TH_LOW", FilterIDs=LOW_BALANCE))
    assert node.accounts.changes.wait(TENANT, "1001")  # the set-up's own events are done
    assert node.thresholds.background.wait_idle()
    return node


def _debit(node, amount: str) -> None:
    node.accounts.add_balance(TENANT, "1001", "*monetary", D(amount), {"ID": "main"}, debit=True)
    assert node.accounts.changes.wait(TENANT, "1001")
    assert node.thresholds.background.wait_idle()


def test_a_debit_under_the_line_fires_the_threshold_once(nodes):
    node = _low_balance_node(nodes, thresholds__account_updates=True)
    _debit(node, "0.2")  # 1.3 left: above the line, no hit
    assert node.thresholds.get_threshold(TENANT, "TH_LOW")["Hits"] == 0
    _debit(node, "0.6")  # 0.7: under the line -> one hit, its action tops up "bonus" by 5
    assert node.thresholds.get_threshold(TENANT, "TH_LOW")["Hits"] == 1
    assert bonus(node) == 5  # the top-up's own change raised nothing more
    assert node.thresholds.background.wait_idle()
    assert node.thresholds.get_threshold(TENANT, "TH_LOW")["Hits"] == 1


def test_account_changes_raise_nothing_by_default(nodes):
    node = _low_balance_node(nodes)
    _debit(node, "1.0")
    assert node.thresholds.get_threshold(TENANT, "TH_LOW")["Hits"] == 0
    assert bonus(node) == 0


def test_a_threshold_topping_up_on_every_account_update_does_not_feed_itself(nodes):
    """Every AccountUpdate hits it and its action changes the account again: without the
    guard each of its own top-ups would hit it once more, for ever."""
    node = _low_balance_node(nodes, thresholds__account_updates=True)
    every_update = ["*string:~*req.EventType:AccountUpdate"]
    node.thresholds.set_profile(threshold("TH_EVERY", FilterIDs=every_update, Weight=20))
    _debit(node, "0.1")
    _debit(node, "0.1")
    assert node.thresholds.get_threshold(TENANT, "TH_EVERY")["Hits"] == 2
    assert bonus(node) == 10
