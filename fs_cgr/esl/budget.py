"""One cap on the bytes every ESL connection of the process holds unparsed.

A frame may announce a body of up to ``frames.MAX_BODY_BYTES`` (16 MiB) and the parser
keeps what arrived until the body is complete, so a few hundred peers that announce big
bodies and send them slowly could hold gigabytes. Each connection reports what its parser
holds after every read; the one whose growth would pass the cap is closed (a protocol
error), the others go on.
"""

from fs_cgr.esl.frames import ProtocolError

MAX_TOTAL_BUFFERED = 128 * 1024 * 1024


class BufferBudget:
    def __init__(self, limit: int = MAX_TOTAL_BUFFERED):
        self.limit = limit
        self.total = 0
        self._held: dict[object, int] = {}

    def hold(self, owner, size: int) -> None:
        """``owner`` now holds ``size`` bytes; ProtocolError when growing past the cap."""
        previous = self._held.get(owner, 0)
        total = self.total - previous + size
        if size > previous and total > self.limit:
            raise ProtocolError(
                f"ESL connections hold {total} unparsed bytes, over the cap of {self.limit}"
            )
        self.total = total
        if size:
            self._held[owner] = size
        else:
            self._held.pop(owner, None)

    def release(self, owner) -> None:
        self.hold(owner, 0)


BUFFERS = BufferBudget()  # shared by every Connection of the process
