"""The playground's HTTP server: the page and its JSON API, on 127.0.0.1 only.

Takes the served folder, a port (0: any free one) and the spec to show first; gives a
``Playground`` (a ``ThreadingHTTPServer``; ``url`` is its address, ``token`` the secret the page
sends with every API call).  The API:

- ``GET /api/specs`` -> ``{"specs": [paths relative to the folder]}``
- ``GET /api/spec?path=P`` -> ``{"path", "text", "sha256"}``
- ``POST /api/check {"path", "text"}`` -> ``checking.check_source``'s dict
- ``POST /api/save {"path", "text", "base"?, "create"?}`` -> ``{"path", "sha256"}``; 409 when the file
  changed since ``base`` (or exists, with ``create``)

A refused request gets ``{"error": why}`` (400, 403, 404, 409, 413).  Every API call must carry the
page's token (``X-Agqc-Token``) and a ``Host`` naming this server, and a POST must be JSON with no
foreign ``Origin``: another web site open in the same browser can neither read a spec nor save one.
"""
from __future__ import annotations

import json
import secrets
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .checking import check_source
from .files import MAX_FILE_BYTES, Changed, Refused, check_text, digest, list_specs, read_spec, save_spec
from .page import page

MAX_BODY = 6 * MAX_FILE_BYTES + 4096  # a spec's text as JSON: each byte escaped at worst as \u00XX
PAGE_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
               "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class Playground(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, port: int = 0, first: str | None = None):
        self.root = Path(root).resolve()
        self.first = first
        self.token = secrets.token_urlsafe(24)
        super().__init__(("127.0.0.1", port), Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


class Problem(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    server: Playground
    server_version = "agqc-serve"
    sys_version = ""

    def log_message(self, format, *args) -> None:  # the terminal shows the address, not every request
        pass

    def do_GET(self) -> None:
        self._answer(self._get)

    def do_POST(self) -> None:
        self._answer(self._post)

    def _answer(self, handle) -> None:
        try:
            self._check_host()
            handle(urlsplit(self.path))
        except Problem as p:
            self._json({"error": str(p)}, p.status)
        except Changed as err:
            self._json({"error": str(err)}, 409)
        except Refused as err:
            self._json({"error": str(err)}, 400)
        except Exception as err:  # agqc's bug, not the user's: say so, keep serving
            traceback.print_exc()
            self._json({"error": f"internal error in agqc (a bug; the terminal shows where): {err!r}"}, 500)

    def _check_host(self) -> None:
        """A page from elsewhere reached through a rebound DNS name names that name as ``Host``."""
        if self.headers.get("Host") not in {f"127.0.0.1:{self.server.port}", f"localhost:{self.server.port}"}:
            raise Problem(403, "this playground answers only at 127.0.0.1 and localhost")

    def _check_token(self) -> None:
        if not secrets.compare_digest(self.headers.get("X-Agqc-Token", ""), self.server.token):
            raise Problem(403, "missing or wrong X-Agqc-Token: reload the playground's page")

    def _get(self, url) -> None:
        if url.path == "/":
            body = page(self.server.token, self.server.first, self.server.root.name).encode()
            self._send(200, "text/html; charset=utf-8", body, {"Content-Security-Policy": PAGE_POLICY,
                                                                "X-Frame-Options": "DENY"})
            return
        if url.path == "/api/specs":
            self._check_token()
            self._json({"specs": list_specs(self.server.root)})
            return
        if url.path == "/api/spec":
            self._check_token()
            relative = parse_qs(url.query).get("path", [""])[0]
            text = read_spec(self.server.root, relative)
            self._json({"path": relative, "text": text, "sha256": digest(text)})
            return
        raise Problem(404, f"no such page: {url.path}")

    def _post(self, url) -> None:
        if url.path not in ("/api/check", "/api/save"):
            raise Problem(404, f"no such page: {url.path}")
        self._check_token()
        origin = self.headers.get("Origin")
        if origin is not None and origin not in (f"http://127.0.0.1:{self.server.port}",
                                                 f"http://localhost:{self.server.port}"):
            raise Problem(403, f"requests from {origin} are refused")
        if self.headers.get_content_type() != "application/json":
            raise Problem(400, "the request must be JSON (Content-Type: application/json)")
        request = self._body()
        relative, text = request.get("path"), check_text(request.get("text"))
        if url.path == "/api/check":
            if not isinstance(relative, str):
                raise Refused("the request names no spec (`path`)")
            self._json(check_source(self.server.root, relative, text))
            return
        base, create = request.get("base"), request.get("create", False)
        if not isinstance(relative, str) or not (base is None or isinstance(base, str)) or not isinstance(create, bool):
            raise Refused("a save takes `path` and `text`, and optionally `base` (a sha256) and `create` (true)")
        self._json({"path": relative, "sha256": save_spec(self.server.root, relative, text, base, create)})

    def _body(self) -> dict:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise Problem(411, "the request must say its length (Content-Length)") from None
        if length < 0 or length > MAX_BODY:
            self.close_connection = True  # the body is not read: the connection cannot carry another request
            raise Problem(413, f"the request has {length:,} bytes; a spec may have {MAX_FILE_BYTES:,}")
        try:
            request = json.loads(self.rfile.read(length))
        except (ValueError, UnicodeDecodeError):
            raise Problem(400, "the request is not valid JSON") from None
        if not isinstance(request, dict):
            raise Problem(400, "the request must be a JSON object")
        return request

    def _json(self, value: dict, status: int = 200) -> None:
        self._send(status, "application/json", json.dumps(value).encode(), {})

    def _send(self, status: int, kind: str, body: bytes, extra: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
