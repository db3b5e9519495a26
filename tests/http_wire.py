"""One HTTP/1.1 message read off a plain socket, for tests that play client or server."""


def read_message(sock) -> tuple[bytes, bytes] | None:
    """(head, body) of the next message (its Content-Length bytes of body); None when the
    peer closed before a whole head arrived."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(
        b"content-length:")).split(b":")[1])  # fmt: skip
    while len(body) < length:
        body += sock.recv(65536)
    return head, body
