"""A real HTTP file server on 127.0.0.1 for release download tests.

Serves a folder with HTTP Range support, and can misbehave on purpose: drop a connection after N
bytes (once), answer 503 (once), or serve a path through a Hugging Face-style
`/datasets/ORG/REPO/resolve/REV/PATH` URL that redirects to a CDN path, as huggingface.co does.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

HF_PREFIX = re.compile(r"^/datasets/([^/]+)/([^/]+)/resolve/([^/]+)/(.*)$")


@dataclass
class Behaviour:
    drop_after: dict[str, int] = field(default_factory=dict)  # relpath -> bytes sent before dropping (once)
    fail_once: dict[str, int] = field(default_factory=dict)  # relpath -> status answered once
    slow: dict[str, float] = field(default_factory=dict)  # relpath -> seconds of sleep per 1 KiB sent
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (relpath, Range header)


class ReleaseServer:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.behaviour = Behaviour()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                path = unquote(urlparse(self.path).path)
                if m := HF_PREFIX.match(path):
                    self.send_response(302)
                    self.send_header("Location", f"/cdn/{m.group(4)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                rel = path.removeprefix("/cdn/").lstrip("/")
                server.behaviour.requests.append((rel, self.headers.get("Range")))
                status = server.behaviour.fail_once.pop(rel, None)
                if status:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                target = (server.root / rel).resolve()
                if not target.is_relative_to(server.root) or not target.is_file():
                    self.send_error(404)
                    return
                data = target.read_bytes()
                start = 0
                rng = self.headers.get("Range")
                if rng and (m := re.match(r"bytes=(\d+)-$", rng)):
                    start = int(m.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                cut = server.behaviour.drop_after.pop(rel, None)
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                delay = server.behaviour.slow.get(rel)
                if delay is None:
                    self.wfile.write(body)
                    return
                for i in range(0, len(body), 1024):
                    try:
                        self.wfile.write(body[i:i + 1024])
                        self.wfile.flush()
                    except OSError:  # the client went away (killed)
                        return
                    time.sleep(delay)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> ReleaseServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
