"""Reader for the ESL transcripts in ../shared/esl-captures (README.md there).

Each block is ``=== <time> SEND|RECV <n> bytes ===`` followed by exactly n bytes,
an optional ``[no trailing newline]`` marker line and ``=== end ===``. The one
exception is the ``auth`` command, whose password was replaced by ``<REDACTED>``
after counting, so its block runs to the next end marker instead.
"""

import re
from dataclasses import dataclass
from pathlib import Path

_BLOCK_START = re.compile(rb"^=== (\S+) (SEND|RECV) (\d+) bytes ===\n", re.MULTILINE)
_NO_NEWLINE = b"\n[no trailing newline]\n=== end ===\n"
_END = b"=== end ===\n"


@dataclass(frozen=True)
class Block:
    file: str  # capture file name
    section: str  # "##### FILE <name>" section inside the capture (inbound.txt, outbound-01.txt...)
    direction: str  # "SEND" (client -> FreeSWITCH) or "RECV" (FreeSWITCH -> client)
    data: bytes


def read_blocks(path: Path) -> list[Block]:
    """Every SEND/RECV block of one capture file, in file order, byte-exact."""
    raw = path.read_bytes()
    blocks = []
    pos = 0
    while match := _BLOCK_START.search(raw, pos):
        start = match.end()
        end = start + int(match.group(3))
        if b"<REDACTED>" in raw[start : end + len(_NO_NEWLINE)]:
            end = raw.index(b"\n" + _END, start) + 1
        data = raw[start:end]
        if raw.startswith(_NO_NEWLINE, end):
            pos = end + len(_NO_NEWLINE)
        elif raw.startswith(_END, end):
            pos = end + len(_END)
        else:
            raise ValueError(f"{path.name}: block at byte {match.start()} has the wrong length")
        blocks.append(
            Block(path.name, _section_at(raw, match.start()), match.group(2).decode(), data)
        )
    return blocks


def _section_at(raw: bytes, offset: int) -> str:
    marker = raw.rfind(b"##### FILE ", 0, offset)
    if marker < 0:
        return ""
    return raw[marker + 11 : raw.index(b"\n", marker)].decode()


def capture_files(captures_dir: Path) -> list[Path]:
    return sorted(captures_dir.glob("[0-9][0-9]-*.txt"))
