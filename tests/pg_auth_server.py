"""A PostgreSQL server that refuses every password: the protocol boundary for "bad password".

The local PostgreSQL trusts 127.0.0.1, so no password is ever wrong there. This speaks just
enough of the frontend/backend protocol (v3) for libpq: decline SSL/GSS encryption, ask for a
cleartext password, record it, answer SQLSTATE 28P01 as PostgreSQL does.
"""

from __future__ import annotations

import socket
import struct
import threading

_SSL_REQUEST, _GSS_REQUEST = 80877103, 80877104


def _read_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


class PasswordRefusingServer:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.passwords: list[str] = []  # what clients sent: proves the password was really tried
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> PasswordRefusingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        with conn:
            try:
                while True:  # encryption requests first, then the startup message
                    length, code = struct.unpack("!ii", _read_exact(conn, 8))
                    body = _read_exact(conn, length - 8)
                    if code in (_SSL_REQUEST, _GSS_REQUEST):
                        conn.sendall(b"N")
                        continue
                    break
                user = dict(zip(*[iter(body.rstrip(b"\0").split(b"\0"))] * 2, strict=False)).get(b"user", b"")
                conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
                kind, length = struct.unpack("!ci", _read_exact(conn, 5))
                if kind == b"p":
                    self.passwords.append(_read_exact(conn, length - 4).rstrip(b"\0").decode())
                fields = (b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \""
                          + user + b"\"\0\0")
                conn.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)
            except (ConnectionError, OSError, struct.error):
                return
