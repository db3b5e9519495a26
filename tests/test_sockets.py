"""send_whole: every byte goes out, in order, whether send() takes it all or part."""

import socket
import threading

from fs_cgr.sockets import send_whole


class _Recorder:
    """A socket whose send() takes at most ``takes`` bytes."""

    def __init__(self, takes: int):
        self.takes = takes
        self.sent = b""
        self.sendall_calls = 0

    def send(self, data) -> int:
        self.sent += bytes(data[: self.takes])
        return min(self.takes, len(data))

    def sendall(self, data) -> None:
        self.sendall_calls += 1
        self.sent += bytes(data)


def test_one_send_when_it_takes_everything():
    sock = _Recorder(takes=100)
    send_whole(sock, b"api status\n\n")
    assert (sock.sent, sock.sendall_calls) == (b"api status\n\n", 0)


def test_the_rest_goes_through_sendall():
    sock = _Recorder(takes=3)
    send_whole(sock, b"api status\n\n")
    assert (sock.sent, sock.sendall_calls) == (b"api status\n\n", 1)


def test_more_than_the_socket_buffer_arrives_whole():
    data = bytes(range(256)) * 40_000  # ~10 MB: send() cannot take it in one go
    left, right = socket.socketpair()
    received = bytearray()

    def read():
        while chunk := right.recv(1 << 16):
            received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        send_whole(left, data)
    finally:
        left.close()
        reader.join(10)
        right.close()
    assert bytes(received) == data
