"""Which folders ``LoadTariffPlanFromFolder`` and ``RemoveTPFromFolder`` may read.

The API reads the folder on the server's machine, so without a limit any caller could
make the node read any directory it can. ``tariffplans.base_dirs`` lists the folders
plans may come from; a path is taken after resolving every symlink (of the path and of
the base dirs), so a link inside a base dir cannot lead out of it. Left empty, the
base dirs are the directory ``fs-cgr serve`` was started in (unless that is ``/``)
and ``<data_dir>/tariffplans``: ``fs-cgr load examples/tariffplan`` run next to the
server works, while the rest of the machine stays out of reach.
"""

import os

from fs_cgr.errors import CGRError, MandatoryMissing


class FolderNotAllowed(CGRError):
    """The folder is outside tariffplans.base_dirs (or is no folder at all)."""

    code = "INVALID_PATH"


def default_base_dirs(data_dir: str) -> list[str]:
    try:
        cwd = os.getcwd()
    except FileNotFoundError:  # started in a directory that is gone
        cwd = os.path.sep
    dirs = [] if os.path.realpath(cwd) == os.path.sep else [cwd]
    return [*dirs, os.path.join(data_dir, "tariffplans")]


def allowed_folder(path, base_dirs) -> str:
    """The real path of ``path`` when it is a folder below one of ``base_dirs``."""
    if not path:
        raise MandatoryMissing("FolderPath")
    if not isinstance(path, str) or "\x00" in path:
        raise FolderNotAllowed("FolderPath must be a path")
    real = os.path.realpath(path)
    for base in base_dirs:
        real_base = os.path.realpath(base)
        if os.path.commonpath([real, real_base]) == real_base:
            if not os.path.isdir(real):
                raise FolderNotAllowed()
            return real
    raise FolderNotAllowed("outside tariffplans.base_dirs")
