"""The dialplan's modules, found in memory when mod_python3 reloads them on every call.

mod_python3 imports the module the ``python`` application names and then reloads it
(``PyImport_ReloadModule``), in the call's own thread, on every call. A reload searches
the package's folder for the file, reads and unmarshals its byte code and runs it again:
for the handler ~85 µs and a dozen file system calls (stat, open, read, lseek, ioctl,
close) a call, for a module whose whole work is to name functions already imported.
``serve_from_memory`` puts a finder first on ``sys.meta_path`` that answers for one module
name only, with a loader that binds the same functions again: the reload touches no file
and runs nothing of the module. Its functions were defined once, when FreeSWITCH's
``startup-script`` (or the first call) imported it, so a changed fs_cgr needs a restart
of FreeSWITCH's Python either way.
"""

import importlib.abc
import importlib.machinery
import sys


class _InMemory(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``name`` (and nothing else); executing it sets ``attributes`` on the module."""

    def __init__(self, name: str, attributes: dict):
        self.name = name
        self.attributes = attributes

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        return None  # the import system makes it (a reload keeps the module it has)

    def exec_module(self, module) -> None:
        module.__dict__.update(self.attributes)


def serve_from_memory(name: str, attributes: dict) -> None:
    """Later imports and reloads of module ``name`` set ``attributes`` and read no file
    (a reloaded module keeps the rest of what its first import defined). Once per
    interpreter: a second call for the same name changes nothing."""
    if not any(isinstance(f, _InMemory) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _InMemory(name, dict(attributes)))
