"""Dialplan entry (``python`` app, ``fs_cgr.embedded.handler``); mod_python3 re-runs this
module on every call, so it only names fs_cgr.embedded.call's preloaded functions."""

from fs_cgr.embedded.call import handler, runtime

__all__ = ["handler", "runtime"]
