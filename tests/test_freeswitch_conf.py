"""freeswitch_conf/ and docker/: valid XML that FreeSWITCH's pre-processor reads as we mean,
a dialplan that branches on exactly the cgr_notify values the agent sets, no default password.

``hunt`` replays FreeSWITCH's XML dialplan hunt over our extensions (conditions in order,
``break`` on-false/on-true/always/never, ``continue``), so the tests check which actions a
channel with given variables would really get. ``run`` plays a socket call: the hunt of
00_fs_cgr.xml before fs_cgr's verdict, then, where ``execute_extension`` comes, the hunt of
the verdict context with the variables fs_cgr set.
"""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fs_cgr.agents import notify

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "freeswitch_conf"
DIALPLAN = CONF / "dialplan" / "default" / "00_fs_cgr.xml"
VERDICT_DIALPLAN = CONF / "dialplan" / "fs_cgr_verdict.xml"
VERDICT_STEP = ("execute_extension", "fs_cgr_verdict XML fs_cgr_verdict")
SOCKET = ("socket", "127.0.0.1:8084 full")
HANDLER = ("python", "fs_cgr.embedded.handler")
EMBEDDED_DIALPLAN = CONF / "dialplan" / "default" / "00_fs_cgr_embedded.xml.inactive"
PYTHON_CONF = CONF / "autoload_configs" / "python.conf.xml"
EVENT_SOCKET = CONF / "autoload_configs" / "event_socket.conf.xml"
DOCKER = ROOT / "docker"
SEED_FLAGS = [
    "*resources",
    "*attributes",
    "*sessions",
    "*routes",
    "*thresholds",
    "*stats",
    "*accounts",
]
XML_FILES = sorted(p for p in CONF.rglob("*") if p.is_file() and ".xml" in p.name)
ROUTES = "ARRAY::2|:supplier2|:supplier1"


def _extensions(dialplan=DIALPLAN):
    return list(ET.parse(dialplan).getroot().iter("extension"))


LOADED_VARS = {"fs_cgr_vars_loaded": "true"}  # what fs_cgr_vars.xml sets
LOADED = {**LOADED_VARS, "fs_cgr_verdict_loaded": "true"}  # ... and fs_cgr_verdict.xml


def _field_value(field: str, variables: dict, globals_: dict) -> str:
    """What FreeSWITCH compares: the pre-processor first replaces ``$${name}`` with the
    global's value at load ("" when undefined); at call time a field in ``${...}`` is
    expanded (a channel variable, else a global one) and any other field is read as the
    NAME of a channel variable (a caller-profile field). So ``field="$${x}"`` compares
    the channel variable named after x's value: on FreeSWITCH 1.10.12 the field
    ``$${fs_cgr_vars_loaded}`` became ``true``, read as variable "true", always empty."""
    field = re.sub(r"\$\$\{(\w+)\}", lambda m: globals_.get(m.group(1), ""), field)
    if field.startswith("${") and field.endswith("}"):
        name = field[2:-1]
        return variables.get(name) or globals_.get(name, "")
    return variables.get(field, "")


def hunt(
    variables: dict, globals_: dict = LOADED, dialplan=DIALPLAN
) -> tuple[list[tuple[str, str]], bool]:
    """(actions queued by our extensions, whether the hunt stopped in our file)."""
    actions = []
    for extension in _extensions(dialplan):
        proceed = False
        for condition in extension.findall("condition"):
            field = condition.get("field")
            proceed = field is None or bool(
                re.search(condition.get("expression"), _field_value(field, variables, globals_))
            )
            tag = "action" if proceed else "anti-action"
            actions += [(a.get("application"), a.get("data", "")) for a in condition.iter(tag)]
            brk = condition.get("break", "on-false")
            if (
                brk == "always"
                or (brk == "on-false" and not proceed)
                or (brk == "on-true" and proceed)
            ):
                break
        if proceed and extension.get("continue") != "true":
            return actions, True
    return actions, False


def run(before: dict, verdict: dict, dialplan=DIALPLAN) -> tuple[list[tuple[str, str]], bool]:
    """A charged call: ``dialplan`` hunted with ``before``; the actions up to the verdict
    step, then (fs_cgr's socket or handler having set ``verdict``) those of the verdict
    context, then the rest. The bool: whether the call ends in our files (a refusal
    hangs up)."""
    actions, stopped = hunt(before, dialplan=dialplan)
    ran = []
    for action in actions:
        if action == VERDICT_STEP:
            found, _ = hunt({**before, **verdict}, dialplan=VERDICT_DIALPLAN)
            ran += found
            if "hangup" in {app for app, _ in found}:
                return ran, True
        else:
            ran.append(action)
    return ran, stopped


def _responses(actions):
    return [data for app, data in actions if app == "respond"]


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: str(p.relative_to(CONF)))
def test_every_file_is_valid_xml(path):
    ET.parse(path)


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: str(p.relative_to(CONF)))
def test_pre_processor_reads_every_line(path):
    """FreeSWITCH's pre-processor drops whole lines that hold <include>, </include> or a
    stray X-PRE-PROCESS: such lines must hold nothing else."""
    for line in path.read_text().splitlines():
        text = line.strip()
        if "<include>" in text or "</include>" in text:
            assert text in ("<include>", "</include>"), line
        if "x-pre-process" in text.lower():
            assert text.startswith("<X-PRE-PROCESS ") and text.endswith("/>"), line


@pytest.mark.parametrize("dialplan", [DIALPLAN, VERDICT_DIALPLAN], ids=["socket", "verdict"])
def test_only_well_formed_dialplan_elements(dialplan):
    allowed = {"extension", "condition", "action", "anti-action"}
    for element in ET.parse(dialplan).getroot().iter():
        assert element.tag in ("include", "context", "X-PRE-PROCESS") or element.tag in allowed
        if element.tag in ("action", "anti-action"):
            assert element.get("application"), ET.tostring(element)
        if element.tag == "condition" and element.get("field", "").startswith("cgr_"):
            pytest.fail(f"condition on {element.get('field')} without ${{}} reads nothing")


@pytest.mark.parametrize(
    "dialplan",
    [DIALPLAN, VERDICT_DIALPLAN, EMBEDDED_DIALPLAN],
    ids=["socket", "verdict", "embedded"],
)
def test_no_condition_field_is_expanded_at_load(dialplan):
    """``field="$${x}"`` becomes x's value at load, which FreeSWITCH reads as a variable
    name: the condition never holds (seen on 1.10.12 with fs_cgr_vars_loaded)."""
    for condition in ET.parse(dialplan).getroot().iter("condition"):
        assert "$${" not in condition.get("field", ""), condition.get("field")


def test_notify_values_are_the_agents():
    assert notify.ALL == (
        "+AUTH_OK",
        "-INSUFFICIENT_FUNDS",
        "-UNAUTHORIZED_DESTINATION",
        "-MISSING_PARAMETER",
        "-SYSTEM_ERROR",
        "-RESOURCE_UNAVAILABLE",
    )


@pytest.mark.parametrize("value", notify.ALL + ("", "AUTH_OK", "-SOMETHING_NEW", "+AUTH_OK "))
def test_each_verdict_has_exactly_one_branch(value):
    matching = [
        extension.get("name")
        for extension in _extensions(VERDICT_DIALPLAN)
        for condition in extension.findall("condition")
        if condition.get("field") == "${cgr_notify}"
        and re.search(condition.get("expression"), value)
    ]
    assert len(matching) == 1, (value, matching)


def test_verdict_context_is_the_one_the_dialplan_runs():
    context = ET.parse(VERDICT_DIALPLAN).getroot().find("context")
    step, dialplan, name = VERDICT_STEP[1].split()
    assert context.get("name") == name == step and dialplan == "XML"
    marker = 'cmd="set" data="fs_cgr_verdict_loaded=true"'
    assert marker in VERDICT_DIALPLAN.read_text()


def test_charged_call_goes_to_fs_cgr_in_its_own_thread_then_reads_the_verdict():
    actions, stopped = hunt({"cgr_reqtype": "*prepaid"})
    assert actions == [SOCKET, VERDICT_STEP]  # static socket ("full", no "async")
    assert not stopped  # no transfer and no second pass: the routing after it runs next


def test_no_verdict_fails_closed():
    """fs_cgr unreachable, or it closed the socket without a verdict: 503, hung up."""
    actions, stopped = run({"cgr_reqtype": "*prepaid"}, {})
    assert stopped and _responses(actions) == ["503 Service Unavailable"]
    assert actions[-1] == ("hangup", "NORMAL_TEMPORARY_FAILURE")


def test_call_without_reqtype_never_reaches_fs_cgr():
    actions, stopped = hunt({"destination_number": "61411111"})
    assert actions == [] and not stopped


def test_auth_ok_continues_to_operator_routing_with_best_route():
    actions, stopped = run(
        {"cgr_reqtype": "*prepaid"}, {"cgr_notify": notify.AUTH_OK, "cgr_routes": ROUTES}
    )
    assert not stopped
    assert actions == [SOCKET, ("set", "cgr_route=${cgr_routes[1]}")]


def test_auth_ok_without_routes_sets_no_route():
    actions, stopped = run({"cgr_reqtype": "*postpaid"}, {"cgr_notify": notify.AUTH_OK})
    assert not stopped and actions == [SOCKET]


@pytest.mark.parametrize("variables", [{}, {"cgr_reqtype": "*prepaid", "cgr_notify": "+AUTH_OK"}])
def test_socket_is_skipped_without_reqtype_or_with_a_verdict(variables):
    """A call the operator's dialplan transfers after +AUTH_OK is not asked again."""
    assert hunt(variables) == ([], False)


@pytest.mark.parametrize(
    ("value", "response", "cause"),
    [
        (notify.INSUFFICIENT_FUNDS, "403 Forbidden", "CALL_REJECTED"),
        (notify.UNAUTHORIZED_DESTINATION, "403 Forbidden", "CALL_REJECTED"),
        (notify.MISSING_PARAMETER, "403 Forbidden", "CALL_REJECTED"),
        (notify.SYSTEM_ERROR, "503 Service Unavailable", "NORMAL_TEMPORARY_FAILURE"),
        (notify.RESOURCE_UNAVAILABLE, "486 Busy Here", "USER_BUSY"),
        ("AUTH_OK", "503 Service Unavailable", "NORMAL_TEMPORARY_FAILURE"),
        ("-SOMETHING_NEW", "503 Service Unavailable", "NORMAL_TEMPORARY_FAILURE"),
    ],
)
def test_refusals_respond_with_sip_code_then_hang_up(value, response, cause):
    """respond, then hangup: loopback channels ignore respond, and a refused call must
    never go on to the routing after the verdict."""
    actions, stopped = run({"cgr_reqtype": "*prepaid"}, {"cgr_notify": value})
    assert stopped
    assert _responses(actions) == [response]
    assert actions[-2:] == [("respond", response), ("hangup", cause)]


@pytest.mark.parametrize("dialplan", [DIALPLAN, VERDICT_DIALPLAN], ids=["socket", "verdict"])
def test_no_proto_specific_hangup_cause(dialplan):
    """set proto_specific_hangup_cause=sip:403 + hangup gives 480 on FreeSWITCH 1.10.12:
    every hangup comes right after the respond that gave the SIP code."""
    root = ET.parse(dialplan).getroot()
    actions = [(a.get("application"), a.get("data", "")) for a in root.iter()]
    assert not [data for _, data in actions if "proto_specific_hangup_cause" in data]
    for condition in root.iter("condition"):
        for tag in ("action", "anti-action"):
            apps = [a.get("application") for a in condition.iter(tag)]
            for index, app in enumerate(apps):
                assert app != "hangup" or apps[index - 1] == "respond", apps


def _user(path):
    user = ET.parse(path).getroot().find("user")
    variables = {v.get("name"): v.get("value") for v in user.iter("variable")}
    return user.get("id"), variables


@pytest.mark.parametrize(
    ("user_id", "reqtype"), [("1001", "*prepaid"), ("1002", "*postpaid"), ("1003", "*rated")]
)
def test_users_carry_cgr_variables(user_id, reqtype):
    found_id, variables = _user(CONF / "directory" / "default" / f"{user_id}.xml")
    assert found_id == user_id
    assert variables["cgr_reqtype"] == reqtype
    assert variables["cgr_flags"].split(";") == SEED_FLAGS
    assert variables["accountcode"] == user_id
    assert variables["user_context"] == "default"
    assert variables["effective_caller_id_number"] == user_id


@pytest.mark.shared
def test_users_carry_the_seeds_flags(shared_dir):
    seed = (shared_dir / "seeds" / "000_ab0cd9d1635efe98.txt").read_text()
    found = set(re.findall(r'name="cgr_flags" value="([^"]*)"', seed))
    assert found == {";".join(SEED_FLAGS)}


def test_event_socket_is_loopback_with_acl_and_no_default_password():
    settings = ET.parse(EVENT_SOCKET).getroot().find("configuration/settings")
    params = {p.get("name"): p.get("value") for p in settings.iter("param")}
    assert params["listen-ip"] == "127.0.0.1"
    assert params["listen-port"] == "8021"
    assert params["apply-inbound-acl"] == "loopback.auto"
    assert re.fullmatch(r"\$\$\{\w+\}", params["password"])
    for path in XML_FILES:
        assert "cluecon" not in path.read_text().lower(), path


def test_password_variable_is_defined_by_the_included_vars_file():
    text = EVENT_SOCKET.read_text()
    variable = re.search(r'name="password" value="\$\$\{(\w+)\}"', text).group(1)
    include = re.search(r'<X-PRE-PROCESS cmd="include" data="([^"]+)"/>', text).group(1)
    assert (EVENT_SOCKET.parent / include).resolve() == CONF / "fs_cgr_vars.xml"
    example = (CONF / "fs_cgr_vars.xml.example").read_text()
    assert f'cmd="set" data="{variable}=' in example


def test_without_the_vars_file_charged_calls_are_refused_loudly():
    """No fs_cgr_vars.xml: the Event Socket runs on FreeSWITCH's default password, so the
    dialplan refuses every charged call (503) before it reaches the socket, and logs why."""
    actions, _ = hunt({"cgr_reqtype": "*prepaid"}, globals_={})
    apps = [app for app, _ in actions]
    assert apps[:2] == ["log", "respond"] and actions[1][1] == "503 Service Unavailable"
    assert "fs_cgr_vars.xml is missing" in actions[0][1] and "docs/freeswitch.md" in actions[0][1]
    assert apps.index("respond") < apps.index("socket")  # respond ends the call first
    assert hunt({"destination_number": "1000"}, globals_={}) == ([], False)  # uncharged: as ever
    actions, _ = hunt({"cgr_reqtype": "*prepaid"})
    assert actions[0][0] == "socket"


def test_without_the_verdict_file_charged_calls_are_refused_loudly():
    """No fs_cgr_verdict.xml: execute_extension would find no context and the call would
    go on whatever fs_cgr said; so the dialplan refuses it before the socket."""
    actions, _ = hunt({"cgr_reqtype": "*prepaid"}, globals_=LOADED_VARS)
    apps = [app for app, _ in actions]
    assert apps[:3] == ["log", "respond", "hangup"] and "fs_cgr_verdict.xml" in actions[0][1]


def test_vars_file_example_and_docker_set_the_loaded_marker():
    example = (CONF / "fs_cgr_vars.xml.example").read_text()
    compose = (DOCKER / "docker-compose.yml").read_text()
    for name, value in LOADED_VARS.items():
        assert f'cmd="set" data="{name}={value}"' in example
        assert f'cmd="set" data="{name}={value}"' in compose


def test_docker_compose_uses_a_public_freeswitch_image_and_our_files():
    yaml = pytest.importorskip("yaml")
    services = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())["services"]
    assert set(services) >= {"freeswitch", "fs_cgr", "redis", "mariadb"}
    freeswitch = services["freeswitch"]
    assert "build" not in freeswitch and "freeswitch" in freeswitch["image"]
    for volume in freeswitch["volumes"]:
        source, target, _mode = volume.split(":")
        path = (DOCKER / source).resolve()
        assert path.is_file(), source
        shipped = CONF if path.is_relative_to(CONF) else DOCKER / "test_dialplan"
        folder = "" if shipped == CONF else "dialplan/default/"
        assert target == "/etc/freeswitch/" + folder + str(path.relative_to(shipped))
    assert freeswitch["network_mode"] == services["fs_cgr"]["network_mode"] == "host"
    assert services["fs_cgr"]["build"]["dockerfile"] == "docker/Dockerfile"
    base_images = re.findall(r"^FROM (\S+)", (DOCKER / "Dockerfile").read_text(), re.M)
    assert base_images == ["python:3.11-slim"]  # fs_cgr only: FreeSWITCH is never built here


# -- embedded mode ---------------------------------------------------------------------------


def test_one_variant_is_active():
    """FreeSWITCH includes dialplan/default/*.xml: the embedded variant ships inactive."""
    active = sorted(p.name for p in DIALPLAN.parent.glob("*.xml"))
    assert active == ["00_fs_cgr.xml"] and EMBEDDED_DIALPLAN.exists()
    assert sorted(p.name for p in VERDICT_DIALPLAN.parent.glob("*.xml")) == [VERDICT_DIALPLAN.name]


def test_embedded_first_pass_runs_the_handler_and_continues_to_routing():
    actions, stopped = hunt({"cgr_reqtype": "*prepaid"}, dialplan=EMBEDDED_DIALPLAN)
    assert actions == [HANDLER, VERDICT_STEP]
    assert not stopped  # no transfer, no second pass: the routing after it runs next
    actions, stopped = run(
        {"cgr_reqtype": "*prepaid"},
        {"cgr_notify": notify.AUTH_OK, "cgr_routes": ROUTES},
        dialplan=EMBEDDED_DIALPLAN,
    )
    assert actions == [HANDLER, ("set", "cgr_route=${cgr_routes[1]}")] and not stopped


def test_a_failed_handler_fails_closed():
    """mod_python3 only logs a handler that raised or could not be imported, and the
    dialplan goes on: with no cgr_notify set, the verdict context refuses the call."""
    actions, stopped = run({"cgr_reqtype": "*prepaid"}, {}, dialplan=EMBEDDED_DIALPLAN)
    assert stopped and _responses(actions) == ["503 Service Unavailable"]
    assert actions[-1] == ("hangup", "NORMAL_TEMPORARY_FAILURE")


@pytest.mark.parametrize("globals_", [{}, LOADED_VARS], ids=["no vars file", "no verdict file"])
def test_embedded_without_our_files_refuses_before_the_handler(globals_):
    actions, _ = hunt({"cgr_reqtype": "*prepaid"}, globals_=globals_, dialplan=EMBEDDED_DIALPLAN)
    apps = [app for app, _ in actions]
    assert apps[:3] == ["log", "respond", "hangup"]


@pytest.mark.parametrize("variables", [{}, {"cgr_reqtype": "*prepaid", "cgr_notify": "+AUTH_OK"}])
def test_embedded_handler_is_skipped_without_reqtype_or_with_a_verdict(variables):
    assert hunt(variables, dialplan=EMBEDDED_DIALPLAN) == ([], False)


def test_startup_script_preloads_the_module_the_dialplan_runs():
    from fs_cgr.embedded import handler

    settings = ET.parse(PYTHON_CONF).getroot().find("settings")
    params = {p.get("name"): p.get("value") for p in settings.findall("param")}
    assert params == {"startup-script": handler.__name__}
    assert callable(handler.handler) and callable(handler.runtime)  # mod_python3's entry points


@pytest.mark.parametrize("value", [v for v in notify.ALL if v != notify.AUTH_OK])
def test_the_embedded_handler_refuses_as_the_socket_dialplan_does(value):
    actions, _ = run({"cgr_reqtype": "*prepaid"}, {"cgr_notify": value})
    assert _responses(actions) == [notify.SIP_RESPONSES[value]]
