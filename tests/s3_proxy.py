"""A fault-injecting HTTP proxy in front of the S3 endpoint: the protocol boundary.

Rules match a request by method and a predicate on path and headers, then either answer
with an S3-style error a number of times, or stall (hold the request) until released.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ERROR_BODY = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
              b"<Message>injected by the test proxy</Message></Error>")


@dataclass
class Rule:
    method: str
    matches: Callable[[str, dict[str, str]], bool]
    fail_times: int = 0  # answer 500 this many times
    stall: bool = False  # hold matching requests until `release` is set
    hits: int = 0
    seen: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.rules: list[Rule] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k.lower(): v for k, v in self.headers.items()}
                for rule in proxy.rules:
                    if rule.method == self.command and rule.matches(self.path, headers):
                        rule.hits += 1
                        rule.seen.set()
                        if rule.stall:
                            rule.release.wait(120)
                        if rule.fail_times > 0:
                            rule.fail_times -= 1
                            self.send_response(500)
                            self.send_header("Content-Type", "application/xml")
                            self.send_header("Content-Length", str(len(ERROR_BODY)))
                            self.end_headers()
                            self.wfile.write(ERROR_BODY)
                            return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                conn.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in {"transfer-encoding", "connection", "content-length"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for rule in self.rules:
            rule.release.set()
        self.server.shutdown()
        self.server.server_close()
