"""Run the ``gcp-storage-emulator`` server on 127.0.0.1: the demo platform's bucket (tooling
for the demo and the tests, never used by a production run).

The emulator rewrites its whole object index (indented JSON) after every write, which makes
uploading thousands of clips quadratic. The launcher below
(``python -m features.simulation.emulator``)
runs the same server but writes that index from the server thread, at most every half
second, and once more at shutdown.
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StorageEmulator:
    """A ``gcp-storage-emulator`` process; on disk under ``data_dir``, else in memory.

    Use as a context manager; ``host`` is the value for ``STORAGE_EMULATOR_HOST``. An on-disk
    emulator keeps its port in ``data_dir/port`` and reuses it: the objects it stores carry
    download links with that port.
    """

    def __init__(self, data_dir: str | Path | None = None, port: int | None = None):
        self.data_dir = Path(data_dir).resolve() if data_dir else None
        saved = self.data_dir / "port" if self.data_dir else None
        if port is None and saved and saved.exists():
            port = int(saved.read_text())
        self.port = port or free_port()
        if saved:
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(str(self.port))
        self.host = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> "StorageEmulator":
        """Start the server and wait until it answers; raises RuntimeError if it does not."""
        cmd = [sys.executable, "-m", "features.simulation.emulator", "--port", str(self.port)]
        if self.data_dir:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            cmd += ["--data-dir", str(self.data_dir)]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      cwd=Path(__file__).resolve().parents[2])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"storage emulator exited: {self._proc.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(self.host + "/", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"storage emulator did not answer on {self.host} within {timeout_s} s")

    def stop(self) -> None:
        """Stop the server (no-op when not running)."""
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None

    def __enter__(self) -> "StorageEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _serve(port: int, data_dir: str | None) -> None:
    import http.server
    import logging

    from gcp_storage_emulator import server, storage

    logging.getLogger("gcp_storage_emulator").setLevel(logging.CRITICAL)
    write_index = storage.Storage._write_config_to_file
    dirty: set = set()
    last = [0.0]

    def flush() -> None:
        while dirty:
            write_index(dirty.pop())
        last[0] = time.monotonic()

    def idle(_server) -> None:  # runs in the server thread after each request or poll
        if dirty and time.monotonic() - last[0] > 0.5:
            flush()

    storage.Storage._write_config_to_file = lambda self: dirty.add(self)
    http.server.HTTPServer.service_actions = idle
    emulator = server.create_server("127.0.0.1", port, in_memory=data_dir is None, data_dir=data_dir)

    def stop(*_):
        emulator.stop()
        flush()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    emulator.start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="gcp-storage-emulator on 127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    _serve(args.port, args.data_dir)
