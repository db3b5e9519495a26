"""FreeSWITCH api command lines, built only from arguments that cannot change the command.

Some arguments come from the caller (the number dialled, the dialplan context), some from
the peer that says it is FreeSWITCH (the channel uuid). FreeSWITCH splits an api command
at blanks, honouring quotes and backslash escapes, and several commands split further:
``uuid_setvar_multi`` at ``;`` then at the first ``=``, ``uuid_transfer`` reads a leading
``-`` as a flag (``-bleg``, ``-both``). There is no escaping that every command reads
back the same, so an argument holding any of these is refused (UnsafeArgument, naming
the command, the argument and the character), never escaped or trimmed. The callers
decide what happens to the call; the frame writer's CR/LF check stays underneath.
"""

import re

_SPLITTERS = re.compile(r"[\s'\"\\\x00-\x1f\x7f]")  # blanks (any), quotes, escapes, controls


class UnsafeArgument(ValueError):
    """A value that would split, quote or escape its way out of its place in a command."""

    def __init__(self, command: str, name: str, value: str, reason: str):
        super().__init__(f"{command}: {name} {value!r} {reason}")
        self.command, self.name, self.value = command, name, value


def argument(command: str, name: str, value, forbidden: str = "") -> str:
    """``value`` as text, checked to stay one argument (and free of ``forbidden``)."""
    text = str(value)
    if not text:
        raise UnsafeArgument(command, name, text, "is empty")
    found = _SPLITTERS.search(text)
    if found is None and forbidden:
        found = re.search(f"[{re.escape(forbidden)}]", text)
    if found is not None:
        raise UnsafeArgument(command, name, text, f"holds {found.group()!r}")
    return text


def _line(command: str, *arguments: tuple[str, object], forbidden: str = "") -> str:
    return " ".join([command, *(argument(command, n, v, forbidden) for n, v in arguments)])


def uuid_transfer(uuid: str, destination: str, dialplan: str, context: str) -> str:
    """Send the channel to ``destination`` in ``dialplan``/``context`` (no flag: the a-leg)."""
    for name, value in (("destination", destination), ("context", context)):
        if str(value).startswith("-"):
            raise UnsafeArgument("uuid_transfer", name, value, "starts with '-' (a flag)")
    args = ("uuid", uuid), ("destination", destination), ("dialplan", dialplan)
    return _line("uuid_transfer", *args, ("context", context))


def uuid_setvar(uuid: str, name: str, value: str) -> str:
    return _line("uuid_setvar", ("uuid", uuid), ("variable", name), (name, value))


def set_variables(uuid: str, variables: dict) -> list[str]:
    """One ``uuid_setvar_multi``; one ``uuid_setvar`` each when a value holds its pair
    separator ``;``. A name may hold neither ``;`` nor ``=``."""
    for name in variables:
        argument("uuid_setvar_multi", "variable", name, forbidden=";=")
    if any(";" in str(value) for value in variables.values()):
        return [uuid_setvar(uuid, name, value) for name, value in variables.items()]
    for name, value in variables.items():
        argument("uuid_setvar_multi", name, value)
    pairs = ";".join(f"{name}={value}" for name, value in variables.items())
    return [_line("uuid_setvar_multi", ("uuid", uuid), ("variables", pairs))]


def uuid_kill(uuid: str, cause: str) -> str:
    return _line("uuid_kill", ("uuid", uuid), ("cause", cause))


def uuid_broadcast(uuid: str, application: str, leg: str) -> str:
    """``application``: ``playback!<cause>::<file>`` and the like, one argument."""
    return _line("uuid_broadcast", ("uuid", uuid), ("application", application), ("leg", leg))


def hupall(cause: str, variable: str, value: str) -> str:
    """Hang up every channel whose ``variable`` is ``value``."""
    return _line("hupall", ("cause", cause), ("variable", variable), ("value", value))
