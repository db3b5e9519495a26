"""How far the import of one file got: the checkpoint that makes a restart resume, not redo.

After each batch the importer records the lines done and the sizes of the
``.bad`` file and of the out_dir copy it writes. A restart skips those lines
and cuts both outputs back to the recorded sizes, so lines of a batch that
was cut short are written once. Should the crash fall between storing a batch
and saving its checkpoint, the batch is read again: its CDRs are then stored
already (same CGRID and RunID) and neither stored nor charged twice.

The checkpoint names the file by device and inode, so a new file that reuses
a finished one's name never inherits its progress. It is saved by writing a
temporary file and renaming it over the old one, after an fsync of both.
"""

import json
import os
from dataclasses import asdict, dataclass


@dataclass
class Progress:
    device: int = 0
    inode: int = 0
    lines: int = 0  # lines of the file done (stored, or written to .bad)
    bad_bytes: int = 0
    copy_bytes: int = 0
    stored: int = 0
    duplicates: int = 0
    bad: int = 0
    unrated_runs: int = 0

    @classmethod
    def load(cls, path: str, stat: os.stat_result) -> "Progress":
        """The saved progress of the file ``stat`` describes; fresh when there is none."""
        fresh = cls(stat.st_dev, stat.st_ino)
        try:
            with open(path, encoding="utf-8") as stream:
                saved = cls(**json.load(stream))
        except FileNotFoundError:
            return fresh
        except (ValueError, TypeError):  # torn or foreign: start over, imports are idempotent
            return fresh
        if (saved.device, saved.inode) != (fresh.device, fresh.inode):
            return fresh
        return saved

    def save(self, path: str) -> None:
        temporary = path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as stream:
            json.dump(asdict(self), stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
