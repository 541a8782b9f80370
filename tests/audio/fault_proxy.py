"""A fault-injecting HTTP proxy on 127.0.0.1 in front of the storage emulator (tests only)."""

from __future__ import annotations

import http.client
import random
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


FAULTS = ("503", "reset", "truncate", "stall")


class FaultProxy:
    """Forwards to ``upstream``; can answer 503 to the first N requests whose path contains a
    marker, corrupt media bodies whose path contains a marker, fail a random share of GET
    requests (``random_share``: a 503, a connection reset, a body cut off half way, or a stall of
    ``stall_s`` then a reset, drawn evenly), and counts concurrency and faults."""

    def __init__(self, upstream: str, random_share: float = 0.0, stall_s: float = 3.0, seed: int = 0):
        self.upstream = urlsplit(upstream)
        self.fail_503: dict[str, int] = {}
        self.corrupt: set[str] = set()
        self.random_share, self.stall_s = random_share, stall_s
        self.faults: dict[str, int] = {f: 0 for f in FAULTS}
        self._rng = random.Random(seed)
        self.requests: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                with proxy._lock:
                    proxy.requests.append(self.path)
                    proxy.in_flight += 1
                    proxy.max_in_flight = max(proxy.max_in_flight, proxy.in_flight)
                try:
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    fault = proxy._draw(self.command)
                    if fault in ("reset", "stall"):
                        if fault == "stall":
                            time.sleep(proxy.stall_s)
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if fault == "503":
                        self.send_response(503)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    for marker, left in list(proxy.fail_503.items()):
                        if marker in self.path and left > 0:
                            with proxy._lock:
                                proxy.fail_503[marker] -= 1
                            self.send_response(503)
                            self.send_header("Content-Length", "0")
                            self.end_headers()
                            return
                    conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    data = data.replace(proxy.upstream_host.encode(), proxy.host.encode())
                    if "alt=media" in self.path and any(m in self.path for m in proxy.corrupt) and data:
                        data = bytes([data[0] ^ 0xFF]) + data[1:]
                    self.send_response(resp.status)
                    for k, v in resp.getheaders():
                        if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if fault == "truncate" and len(data) > 1:
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self.wfile.write(data)
                finally:
                    with proxy._lock:
                        proxy.in_flight -= 1

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.upstream_host = f"http://{self.upstream.hostname}:{self.upstream.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _draw(self, method: str) -> str | None:
        with self._lock:
            if method != "GET" or self._rng.random() >= self.random_share:
                return None
            fault = self._rng.choice(FAULTS)
            self.faults[fault] += 1
            return fault

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
