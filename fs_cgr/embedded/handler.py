"""Dialplan entry (``python`` app, ``fs_cgr.embedded.handler``); mod_python3 reloads this
module on every call, so it only names fs_cgr.embedded.call's preloaded functions, and
from its first import on a reload finds it in memory (fs_cgr.embedded.preloaded)."""

from fs_cgr.embedded.call import handler, runtime
from fs_cgr.embedded.preloaded import serve_from_memory

__all__ = ["handler", "runtime"]

serve_from_memory(__name__, {"handler": handler, "runtime": runtime, "__all__": __all__})
