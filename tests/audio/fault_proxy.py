"""A fault-injecting HTTP proxy on 127.0.0.1 in front of the storage emulator (tests only)."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class FaultProxy:
    """Forwards to ``upstream``; can answer 503 to the first N requests whose path contains a
    marker, corrupt media bodies whose path contains a marker, and counts concurrency."""

    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.fail_503: dict[str, int] = {}
        self.corrupt: set[str] = set()
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
                    self.wfile.write(data)
                finally:
                    with proxy._lock:
                        proxy.in_flight -= 1

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.upstream_host = f"http://{self.upstream.hostname}:{self.upstream.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
