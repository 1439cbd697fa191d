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


class FileMirror(Loopback):
    """Serves files (URL path -> bytes) as raw.githubusercontent.com does, under a mirror base URL (``url``);
    every GET path is recorded in ``requests``."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.requests = files, []
        state = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                state.requests.append(self.path)
                body = state.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)
