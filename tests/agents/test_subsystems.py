"""The seed's full cgr_flags through the simulator: ResourceS limits concurrent calls,
AttributeS rewrites the number before rating and the altered field goes back on the
channel with the verdict, StatS/ThresholdS get every finished call once.

Account 1001 may have 2 calls at once (RES_1001_CALLS); a national 0049... number is
rewritten to 49... (ATTR_E164), the priced destination of the lab's plan.
"""

import gevent
import pytest

from fs_cgr.agents import notify
from fs_cgr.resources.service import UsageRequest
from tests.agents.conftest import BACKENDS, node_overrides, start_agent
from tests.agents.lab import DE, SEED_FLAGS
from tests.agents.test_freeswitch import restart, setup_commands, verdict, wire
from tests.fssim import wait_until

TENANT = "cgrates.org"
NATIONAL = "00" + DE


class Recorder:
    """Stands in for node.stats / node.thresholds: remembers what the agent sends."""

    def __init__(self, matched=("Q1",)):
        self.events = []
        self.matched = list(matched)

    def process_event(self, cgr_event, ids=None):
        self.events.append((cgr_event, ids))
        return self.matched

    def calls(self):
        return [event for event, _ in self.events if "EventType" not in event["Event"]]


def add_profiles(node) -> None:
    node.resources.set_profile(
        {
            "Tenant": TENANT,
            "ID": "RES_1001_CALLS",
            "FilterIDs": ["*string:~*req.Account:1001"],
            "UsageTTL": "1h",
            "Limit": 2,
            "Weight": 10,
        }
    )
    node.attributes.set_profile(
        {
            "Tenant": TENANT,
            "ID": "ATTR_E164",
            "Contexts": ["*sessions"],
            "FilterIDs": ["*prefix:~*req.Destination:00"],
            "Attributes": [
                {
                    "Path": "*req.Destination",
                    "Type": "*variable",
                    "Value": "~*req.Destination:s/^00(\\d+)$/${1}/",
                }
            ],
            "Weight": 10,
        }
    )


def in_use(lab) -> list[str]:
    return sorted(lab.node.resources.get_resource(TENANT, "RES_1001_CALLS")["Usages"])


def flagged(lab, **variables):
    return lab.call(cgr_flags=SEED_FLAGS, **variables)


@pytest.fixture
def seeded(make_lab):
    def make(backend="embedded"):
        lab = make_lab(backend)
        add_profiles(lab.node)
        lab.topup("1001", "1")
        return lab

    return make


@pytest.mark.parametrize("backend", BACKENDS)
def test_third_concurrent_call_is_refused_and_the_slot_freed_at_hangup(seeded, backend):
    lab = seeded(backend)
    first, second = flagged(lab), flagged(lab)
    lab.answer(first)
    third = flagged(lab)
    assert wire(third) == setup_commands() + verdict(f"cgr_notify={notify.RESOURCE_UNAVAILABLE}")
    assert in_use(lab) == sorted([first.uuid, second.uuid])
    assert lab.session(third) is None  # refused: no session, no money
    first.hangup()
    wait_until(lambda: first.uuid not in in_use(lab), 5, "the slot freed")
    fourth = flagged(lab)
    assert fourth.vars["cgr_notify"] == notify.AUTH_OK
    assert in_use(lab) == sorted([second.uuid, fourth.uuid])


def test_unanswered_calls_give_their_slot_back(seeded):
    lab = seeded()
    cancelled, lost = flagged(lab), flagged(lab)
    cancelled.hangup("ORIGINATOR_CANCEL")
    lost.drop()  # socket lost before answer: the agent kills the call
    wait_until(lambda: in_use(lab) == [], 5, "both slots freed")
    assert flagged(lab).vars["cgr_notify"] == notify.AUTH_OK


def test_socket_dropped_mid_call_frees_the_slot_at_the_links_hangup(seeded):
    lab = seeded()
    call = flagged(lab)
    lab.answer(call)
    call.drop()
    wait_until(lambda: call.uuid not in lab.agent.calls, 5, "the agent to see the drop")
    assert in_use(lab) == [call.uuid]
    call.channel.sim.hangup(call.channel, "NORMAL_CLEARING")
    wait_until(lambda: in_use(lab) == [], 5, "the slot freed over the inbound link")


def test_restart_frees_the_slots_of_calls_gone_meanwhile_and_keeps_live_ones(seeded):
    lab = seeded("redis+mariadb")
    gone, live = flagged(lab), flagged(lab)
    lab.answer(gone)
    lab.answer(live)
    lab.stop_node(hangup=False)
    gone.channel.sim.hangup(gone.channel, "NORMAL_CLEARING")  # nobody listens
    lab.start_node()
    assert in_use(lab) == [live.uuid]
    live.channel.sim.hangup(live.channel, "NORMAL_CLEARING")  # seen over the new link
    wait_until(lambda: in_use(lab) == [], 5, "the live call's slot freed at its hangup")


def test_restart_recovery_leaves_other_owners_usages_alone(seeded):
    lab = seeded("redis+mariadb")
    lab.node.resources.allocate(_api_usage("api-usage"))
    restart(lab)
    assert in_use(lab) == ["api-usage"]


def _api_usage(usage_id):
    return UsageRequest(TENANT, {"Account": "1001"}, usage_id)


def test_attribute_altered_destination_is_rated_and_set_on_the_channel(seeded):
    lab = seeded()
    call = flagged(lab, destination=NATIONAL)
    assert wire(call) == setup_commands() + verdict(
        f"cgr_notify=+AUTH_OK;Destination={DE};cgr_routes=ARRAY::2|:supplier2|:supplier1"
        ";cgr_max_usage=100",
        destination=NATIONAL,
    )
    assert call.vars["Destination"] == DE
    lab.answer(call)
    gevent.sleep(1.1)
    call.hangup()
    cdr = lab.cdr_of(call)
    assert cdr["Destination"] == DE and cdr["Cost"] > 0  # rated as 49..., not unpriced 0049...


def test_altered_values_freeswitch_cannot_take_are_not_sent(seeded):
    lab = seeded()
    lab.node.attributes.set_profile(
        {
            "Tenant": TENANT,
            "ID": "ATTR_UNSAFE",
            "Contexts": ["*sessions"],
            "FilterIDs": ["*string:~*req.Account:1001"],
            "Attributes": [
                {"Path": "*req.Note", "Type": "*constant", "Value": "a=b"},
                {"Path": "*req.cgr_notify", "Type": "*constant", "Value": "+AUTH_OK"},
                {"Path": "*req.Label", "Type": "*constant", "Value": "gold"},
            ],
            "Weight": 20,
        }
    )
    call = flagged(lab)
    assert wire(call)[-2].startswith("api uuid_setvar_multi <uuid> cgr_notify=+AUTH_OK;Label=gold;")


def test_every_finished_call_is_reported_once_to_stats_and_thresholds(seeded):
    lab = seeded()
    lab.node.stats, lab.node.thresholds = Recorder(), Recorder(["TH_1"])
    answered, failed = flagged(lab), flagged(lab)
    lab.answer(answered)
    gevent.sleep(1.1)
    answered.hangup()
    failed.hangup("NO_ANSWER")
    wait_until(lambda: len(lab.node.stats.calls()) == 2, 5, "both calls reported")
    by_id = {event["Event"]["OriginID"]: event for event in lab.node.stats.calls()}
    done, missed = by_id[answered.uuid]["Event"], by_id[failed.uuid]["Event"]
    assert done["AnswerTime"] and done["Usage"] >= 10**9 and done["Cost"] > 0
    assert done["SetupTime"] and done["PDD"] == 0 and done["Destination"] == DE
    assert "AnswerTime" not in missed and missed["Usage"] == 0 and missed["Cost"] == 0
    assert len(lab.node.thresholds.calls()) == 2
    assert all(ids is None for _, ids in lab.node.stats.events)


@pytest.mark.parametrize("reqtype", ["*postpaid", "*pseudoprepaid", "*rated"])
def test_a_call_priced_at_hangup_is_reported_with_its_cost(seeded, reqtype):
    """Priced by its CDR (no session cost): the reported Cost is the CDR's."""
    lab = seeded()
    lab.node.stats = Recorder()
    call = flagged(lab, reqtype=reqtype)
    lab.answer(call)
    gevent.sleep(1.1)
    call.hangup()
    wait_until(lambda: lab.node.stats.calls(), 5, "the call reported")
    reported = lab.node.stats.calls()[0]["Event"]
    assert reported["Cost"] == lab.cdr_of(call)["Cost"] > 0
    assert in_use(lab) == []  # its slot was freed at hangup


def test_flag_ids_are_passed_on(seeded):
    lab = seeded()
    lab.node.stats = Recorder()
    call = lab.call(cgr_flags="*accounts;*stats:Q_ASR&Q_ACD")
    call.hangup("NO_ANSWER")
    wait_until(lambda: lab.node.stats.events, 5, "the report")
    assert lab.node.stats.events[0][1] == ["Q_ASR", "Q_ACD"]


def test_a_call_no_resource_profile_matches_has_no_limit(seeded):
    lab = seeded()
    lab.topup("1002", "1")
    calls = [lab.call(account="1002", cgr_flags=SEED_FLAGS) for _ in range(3)]
    assert [call.vars["cgr_notify"] for call in calls] == [notify.AUTH_OK] * 3


def test_a_refused_call_releases_nothing_and_counts_as_failed(seeded, caplog):
    lab = seeded()
    lab.node.stats = Recorder()
    held = [flagged(lab), flagged(lab)]
    refused = flagged(lab)
    assert refused.vars["cgr_notify"] == notify.RESOURCE_UNAVAILABLE
    refused.hangup("CALL_REJECTED")
    wait_until(lambda: lab.node.stats.calls(), 5, "the refused call reported")
    assert in_use(lab) == sorted(call.uuid for call in held)
    assert "not released" not in caplog.text


def test_the_limit_holds_across_two_nodes_sharing_one_redis(seeded, request, tmp_path):
    lab = seeded("redis+mariadb")
    overrides = node_overrides("redis+mariadb", request, tmp_path / "second", lab.inbound)
    node2, agent2 = start_agent(overrides, lab.plan_dir, fresh=False)
    try:
        variables = {"cgr_account": "1001", "cgr_reqtype": "*prepaid", "cgr_flags": SEED_FLAGS}
        first = flagged(lab)
        second = lab.sim.place_call(agent2.address, variables, destination=DE)
        second.wait_transfer()
        assert second.vars["cgr_notify"] == notify.AUTH_OK
        assert flagged(lab).vars["cgr_notify"] == notify.RESOURCE_UNAVAILABLE
        second.hangup()
        wait_until(lambda: in_use(lab) == [first.uuid], 5, "node 2 to free its slot")
        assert flagged(lab).vars["cgr_notify"] == notify.AUTH_OK
    finally:
        agent2.stop(hangup=False)
        node2.stop()


def test_units_of_calls_gone_without_any_hangup_event_are_released(seeded):
    lab = seeded()
    kept, lost = flagged(lab), flagged(lab)
    lab.answer(kept)
    lab.answer(lost)
    kept.drop()
    lost.drop()
    wait_until(lambda: not lab.agent.calls, 5, "the drops")
    lab.agent.release_gone_calls()
    assert in_use(lab) == sorted([kept.uuid, lost.uuid])  # both still listed by FreeSWITCH
    del lab.sim.channels[lost.uuid]  # gone, its HANGUP_COMPLETE lost too
    lab.agent.release_gone_calls()
    assert in_use(lab) == [kept.uuid]
