"""JSON-RPC methods by their CGrateS names.

Each subsystem registers its methods in ``fs_cgr/api/methods_<name>.py``::

    @rpc("APIerSv1.GetCost")
    def get_cost(node, params: dict): ...

CGrateS clients use several spellings of the same service: ``ApierV1`` and
``APIerSv1`` are one service, ``ApierV2`` and ``APIerSv2`` another, and a v2
name falls back to the v1 method (and the other way round) unless both exist.
"""

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

_SERVICE_ALIASES = {"ApierV1": "APIerSv1", "ApierV2": "APIerSv2"}
_VERSION_FALLBACK = {"APIerSv1": "APIerSv2", "APIerSv2": "APIerSv1", "CDRsV2": "CDRsV1"}


@dataclass(frozen=True)
class Method:
    name: str
    func: Callable
    scalar_param: str | None = None  # CGrateS methods that take a bare string, e.g. GetDestination

    def __call__(self, node, params: dict):
        return self.func(node, params)


_methods: dict[str, Method] = {}


def rpc(name: str, *, scalar_param: str | None = None):
    """Register ``func(node, params: dict)`` under the CGrateS method ``name``.

    ``scalar_param``: the method also accepts a bare JSON value as its parameter
    (as CGrateS' ``GetDestination("DST_1002")``); it arrives as ``{scalar_param: value}``.
    """
    if name.count(".") != 1:
        raise ValueError(f"method name must be Service.Method, got {name!r}")
    if name in _methods:
        raise ValueError(f"JSON-RPC method {name} registered twice")

    def register(func):
        _methods[name] = Method(name, func, scalar_param)
        return func

    return register


def resolve(name: str) -> Method | None:
    """The method for a client's spelling of ``name``, or None."""
    method = _methods.get(name)
    if method is not None:
        return method
    service, _, call = name.partition(".")
    service = _SERVICE_ALIASES.get(service, service)
    method = _methods.get(f"{service}.{call}")
    if method is None and service in _VERSION_FALLBACK:
        method = _methods.get(f"{_VERSION_FALLBACK[service]}.{call}")
    return method


def method_names() -> list[str]:
    return sorted(_methods)


def load_method_modules() -> list[str]:
    """Import every ``fs_cgr/api/methods_*.py`` so their ``@rpc`` registrations run."""
    package = importlib.import_module("fs_cgr.api")
    loaded = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("methods_"):
            importlib.import_module(f"fs_cgr.api.{info.name}")
            loaded.append(info.name)
    return loaded
