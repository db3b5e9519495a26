"""Writing a whole buffer to a socket in as few calls as the usual case needs.

The API's HTTP replies and the Event Socket's commands are small, and the socket's buffer
nearly always has room for them: one ``send`` takes them whole. gevent's ``sendall`` costs
more for the same bytes (it reads the socket's timeout option and runs its chunking loop
every time), so it only gets what ``send`` left, and waits as it always did when the
buffer is full.
"""


def send_whole(sock, data: bytes) -> None:
    """``sock.sendall(data)``: one ``send``, then ``sendall`` for the rest, if any."""
    sent = sock.send(data)
    if sent < len(data):
        sock.sendall(memoryview(data)[sent:])
