"""The one way tests serve HTTP: a threaded server on 127.0.0.1 (a free port), never another address."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Loopback:
    """Serve ``handler`` on 127.0.0.1 from a daemon thread while used as a context manager.

    ``url`` is the base URL (plus ``path``, e.g. ``/v1``); subclasses are the fake services."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], path: str = ""):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
