"""One configuration for a node: built-in defaults, a JSON file, env, then CLI overrides.

The file holds the same sections as the dataclasses below (``{"sessions":
{"debit_interval": "10s"}}``). Durations are written as CGrateS writes them
("10s", "3h") and held as int nanoseconds, except ``freeswitch_agent.linger``,
which FreeSWITCH wants in whole seconds. Unknown keys and bad values are refused
with the dotted key in the message, so a typo never silently falls back to a default.

Environment: ``FS_CGR_DATADB``, ``FS_CGR_STORDB`` (URLs), ``FS_CGR_API``
(``host:port`` of the JSON-RPC server), ``FS_CGR_DATA_DIR``, ``FS_CGR_AUTH_TOKENS``
(comma-separated API tokens).
"""

import dataclasses
import ipaddress
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from fs_cgr.durations import SECOND, parse_duration
from fs_cgr.folder_access import default_base_dirs

ENV_OVERRIDES = {
    "FS_CGR_DATADB": "datadb.url",
    "FS_CGR_STORDB": "stordb.url",
    "FS_CGR_API": "listen.http",
    "FS_CGR_DATA_DIR": "general.data_dir",
    "FS_CGR_AUTH_TOKENS": "listen.auth_tokens",
}


class ConfigError(ValueError):
    """A configuration the node cannot run with; the message names the key."""


def _duration(default: str):
    return field(default=parse_duration(default), metadata={"kind": "duration"})


def _seconds(default: str):
    return field(default=parse_duration(default) // SECOND, metadata={"kind": "seconds"})


def default_data_dir() -> str:
    """``~/.local/share/fs_cgr`` for a user with a home, ``./var`` otherwise."""
    home = os.environ.get("HOME")
    if home and os.path.isdir(home) and os.access(home, os.W_OK):
        return os.path.join(home, ".local", "share", "fs_cgr")
    return os.path.abspath("var")


LOOPBACK = ("127.0.0.0/8", "::1")


@dataclass
class GeneralConfig:
    default_tenant: str = "cgrates.org"
    default_category: str = "call"
    default_request_type: str = "*rated"
    rounding_decimals: int = 5
    data_dir: str = ""  # "" = default_data_dir()
    node_id: str = ""  # "" = <host name>|<listen.http>: whose journaled sessions are whose


@dataclass
class ListenConfig:
    http: str = "127.0.0.1:2080"
    max_request_bytes: int = 10 * 1024 * 1024
    max_concurrent_requests: int = 1000
    max_connections_per_client: int = 64
    read_timeout: int = _duration("10s")  # for the request line and headers, then for the body
    auth_tokens: list[str] = field(default_factory=list)  # "" / [] = no auth (loopback only)
    tls_cert: str = ""  # PEM files; both set = HTTPS
    tls_key: str = ""
    freeswitch_json_allow_from: list[str] = field(default_factory=lambda: list(LOOPBACK))


@dataclass
class DataDBConfig:
    url: str = "internal://"


@dataclass
class StorDBConfig:
    url: str = ""  # "" = sqlite:///<data_dir>/stordb.sqlite


@dataclass
class SessionsConfig:
    debit_interval: int = _duration("10s")
    min_call_duration: int = _duration("0s")
    max_call_duration: int = _duration("3h")
    session_ttl: int = _duration("0s")
    channel_sync_interval: int = _duration("60s")
    debit_retry: int = _duration("30s")  # a debit the DataDB refused is asked again this long


@dataclass
class EventSocketConn:
    address: str = "127.0.0.1:8021"
    password: str = ""  # no default: FreeSWITCH's fs_cgr_vars.xml sets it (docs/freeswitch.md)
    reconnects: int = -1
    alias: str = ""


@dataclass
class FreeSwitchAgentConfig:
    listen: str = "127.0.0.1:8084"
    event_socket_conns: list[EventSocketConn] = field(default_factory=lambda: [EventSocketConn()])
    empty_balance_ann_file: str = ""
    low_balance_ann_file: str = ""
    hangup_on_shutdown: bool = True
    linger: int = _seconds("10s")
    max_connections: int = 10000
    shed_after: int = _duration("500ms")  # a call waiting longer for its verdict is refused
    create_cdr: bool = True
    cdr_commit_wait: int = _duration("100ms")  # an answered *prepaid call's CDR: for company
    allow_from: list[str] = field(default_factory=lambda: list(LOOPBACK))


@dataclass
class CDRsConfig:
    spool_dir: str = ""  # "" = <data_dir>/cdr-spool
    store_batch: int = 500
    export_dir: str = ""  # "" = <data_dir>/cdr-export: where CDRsV1.ExportCDRs writes
    attributes: bool = False  # pass each CDR through AttributeS (context *cdrs)


@dataclass
class CdrcConfig:
    """One watched folder of the Mediator (fs_cgr.cdrc): CDR files in, imported, moved out."""

    in_dir: str = ""
    out_dir: str = ""
    format: str = "freeswitch_csv"  # freeswitch_csv | freeswitch_json | cgrates_csv
    template: str = ""  # CSV columns; "" = the format's default
    run_delay: int = _duration("0s")  # 0: inotify (polling fallback); else poll this often
    settle: int = _duration("1s")  # a file unchanged this long (no inotify close) is finished
    timezone: str = "UTC"  # of mod_cdr_csv's local *_stamp columns
    cost_runs: list[str] = field(default_factory=list)  # RunIDs whose Cost is appended


@dataclass
class TariffPlansConfig:
    base_dirs: list[str] = field(default_factory=list)  # [] = see fs_cgr.folder_access


@dataclass
class AttributesConfig:
    process_runs: int = 1
    profile_runs: int = 0  # 0 = CGrateS v0.10 (no limit); N = a profile applies <= N times


@dataclass
class ChargersConfig:
    attributes: bool = False  # charger AttributeIDs through AttributeS (context *chargers)


@dataclass
class ThresholdsConfig:
    account_updates: bool = False  # account changes raise BalanceUpdate/AccountUpdate events


@dataclass
class Config:
    general: GeneralConfig = field(default_factory=GeneralConfig)
    listen: ListenConfig = field(default_factory=ListenConfig)
    datadb: DataDBConfig = field(default_factory=DataDBConfig)
    stordb: StorDBConfig = field(default_factory=StorDBConfig)
    sessions: SessionsConfig = field(default_factory=SessionsConfig)
    freeswitch_agent: FreeSwitchAgentConfig = field(default_factory=FreeSwitchAgentConfig)
    cdrs: CDRsConfig = field(default_factory=CDRsConfig)
    tariffplans: TariffPlansConfig = field(default_factory=TariffPlansConfig)
    cdrc: list[CdrcConfig] = field(default_factory=list)
    attributes: AttributesConfig = field(default_factory=AttributesConfig)
    chargers: ChargersConfig = field(default_factory=ChargersConfig)
    thresholds: ThresholdsConfig = field(default_factory=ThresholdsConfig)

    def __post_init__(self):
        _finish(self)

    @property
    def data_dir(self) -> str:
        return self.general.data_dir


def load_config(path=None, overrides: dict | None = None, env=None) -> Config:
    """Defaults, then the JSON file at ``path``, then env, then ``overrides``.

    ``overrides`` maps dotted keys to values (``{"datadb.url": "redis://..."}``)
    or sections to dicts (``{"sessions": {"debit_interval": "5s"}}``).
    """
    config = Config()
    for section, name in _DERIVED:  # resolved again once every source is applied
        setattr(getattr(config, section), name, [] if name == "base_dirs" else "")
    if path is not None:
        _apply(config, _read_file(path), str(path))
    environ = os.environ if env is None else env
    from_env = {key: environ[name] for name, key in ENV_OVERRIDES.items() if environ.get(name)}
    _apply(config, _nest(from_env), "environment")
    _apply(config, _nest(overrides or {}), "overrides")
    _finish(config)
    return config


def to_dict(config: Config) -> dict:
    """The configuration as a JSON-able dict (durations back in Go form)."""
    from fs_cgr.durations import format_duration

    def convert(obj):
        if dataclasses.is_dataclass(obj):
            out = {}
            for f in dataclasses.fields(obj):
                value = getattr(obj, f.name)
                kind = f.metadata.get("kind")
                if kind == "duration":
                    out[f.name] = format_duration(value)
                elif kind == "seconds":
                    out[f.name] = f"{value}s"
                else:
                    out[f.name] = convert(value)
            return out
        if isinstance(obj, list):
            return [convert(item) for item in obj]
        return obj

    return convert(config)


_DERIVED = (
    ("general", "data_dir"),
    ("stordb", "url"),
    ("cdrs", "spool_dir"),
    ("tariffplans", "base_dirs"),
    ("cdrs", "export_dir"),
)


def parse_hostport(text: str) -> tuple[str, int]:
    """``"127.0.0.1:2080"`` -> ``("127.0.0.1", 2080)``; ``[::1]:2080`` works too."""
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected host:port, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def _finish(config: Config) -> None:
    """Resolve the defaults that live under the data dir; check the addresses."""
    for where, address in (
        ("listen.http", config.listen.http),
        ("freeswitch_agent.listen", config.freeswitch_agent.listen),
    ):
        try:
            parse_hostport(address)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    _check_listen(config.listen)
    if config.attributes.process_runs < 1 or config.attributes.profile_runs < 0:
        raise ConfigError("attributes: process_runs must be >= 1 and profile_runs >= 0")
    general = config.general
    if not general.data_dir:
        general.data_dir = default_data_dir()
    if not config.stordb.url:
        config.stordb.url = "sqlite:///" + os.path.join(general.data_dir, "stordb.sqlite")
    if not config.cdrs.spool_dir:
        config.cdrs.spool_dir = os.path.join(general.data_dir, "cdr-spool")
    if not config.cdrs.export_dir:
        config.cdrs.export_dir = os.path.join(general.data_dir, "cdr-export")
    if not config.tariffplans.base_dirs:
        config.tariffplans.base_dirs = default_base_dirs(general.data_dir)


def _check_listen(listen: ListenConfig) -> None:
    """An API reachable from other machines must ask for a token; TLS needs both files."""
    host, _ = parse_hostport(listen.http)
    if not listen.auth_tokens and not is_loopback(host):
        raise ConfigError(
            f"listen.http is {listen.http}, reachable from other machines, but"
            " listen.auth_tokens is empty: set listen.auth_tokens (see docs/security.md)"
            " or listen on 127.0.0.1"
        )
    if any(not token or token != token.strip() for token in listen.auth_tokens):
        raise ConfigError("listen.auth_tokens: tokens must be non-empty, without spaces around")
    if bool(listen.tls_cert) != bool(listen.tls_key):
        raise ConfigError("listen.tls_cert and listen.tls_key: set both (PEM files) or neither")


WELL_KNOWN_ESL_PASSWORDS = ("", "cluecon")


def require_event_socket_passwords(conns: list[EventSocketConn]) -> None:
    """The agent logs into every FreeSWITCH event socket: refuse to start without a password
    of the operator's own (FreeSWITCH's compiled-in ClueCon is known to everyone)."""
    for index, conn in enumerate(conns):
        if conn.password.strip().lower() in WELL_KNOWN_ESL_PASSWORDS:
            raise ConfigError(
                f"freeswitch_agent.event_socket_conns[{index}].password: empty or FreeSWITCH's"
                " well-known default; set the password of that FreeSWITCH's fs_cgr_vars.xml"
                " (fs-cgr serve --fs-password, docs/freeswitch.md)"
            )


def is_loopback(host: str) -> bool:
    """``127.x``, ``::1`` and ``localhost``; a wildcard or any other address is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_file(path) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be an object of sections")
    return data


def _nest(flat: dict) -> dict:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``; nested dicts and lists pass through."""
    nested: dict = {}
    for key, value in flat.items():
        section, _, name = key.partition(".")
        if not name and isinstance(value, list):  # a list section (cdrc)
            nested[section] = value
        elif not name:
            nested.setdefault(section, {})
            if not isinstance(value, dict):
                raise ConfigError(f"{key}: a section must be given as an object")
            nested[section].update(value)
        else:
            nested.setdefault(section, {})[name] = value
    return nested


def _apply(target, values: dict, source: str, prefix: str = "") -> None:
    fields = {f.name: f for f in dataclasses.fields(target)}
    for name, value in values.items():
        key = prefix + name
        spec = fields.get(name)
        if spec is None:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{source}: unknown key {key!r} (known here: {known})")
        current = getattr(target, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {key} must be an object")
            _apply(current, value, source, key + ".")
        else:
            setattr(target, name, _coerce(spec, current, value, source, key))


def _coerce(spec: dataclasses.Field, current, value, source: str, key: str):
    where = f"{source}: {key}"
    kind = spec.metadata.get("kind")
    try:
        if kind == "duration":
            return _nonnegative(parse_duration(value))
        if kind == "seconds":
            if isinstance(value, int) and not isinstance(value, bool):
                return _nonnegative(value)
            return _nonnegative(parse_duration(value) // SECOND)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if isinstance(current, bool):
        return _boolean(value, where)
    if isinstance(current, int):
        return _integer(value, where)
    if isinstance(current, str):
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if spec.name == "event_socket_conns":
        return _event_socket_conns(value, source, key)
    if spec.name == "cdrc":
        return _objects(value, CdrcConfig, source, key)
    if isinstance(current, list):
        return _strings(value, where)
    raise ConfigError(f"{where}: cannot be set")  # pragma: no cover - every field is typed above


def _nonnegative(number: int) -> int:
    if number < 0:
        raise ValueError(f"must not be negative, got {number}")
    return number


def _boolean(value, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ConfigError(f"{where}: expected true or false, got {value!r}")


def _integer(value, where: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ConfigError(f"{where}: expected an integer, got {value!r}")


def _strings(value, where: str) -> list[str]:
    """A list of strings; one string is taken as a comma-separated list (env, CLI)."""
    if isinstance(value, str):
        value = [item.strip() for item in value.split(",") if item.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    return list(value)


def _event_socket_conns(value, source: str, key: str) -> list[EventSocketConn]:
    return _objects(value, EventSocketConn, source, key)


def _objects(value, kind, source: str, key: str) -> list:
    """A list of ``kind`` dataclasses from a list of JSON objects."""
    if not isinstance(value, list):
        raise ConfigError(f"{source}: {key}: expected a list of objects")
    items = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: {key}[{index}]: expected an object")
        item = kind()
        _apply(item, entry, source, f"{key}[{index}].")
        items.append(item)
    return items
