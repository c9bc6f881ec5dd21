"""A real HTTP server on 127.0.0.1 for fetch and feed tests (aiohttp), with fault modes.

    async with LocalWebServer() as server:
        server.page("/story", "<html>...</html>", etag='"v1"')
        server.redirect("/old", "/story")
        server.huge("/big", 11 * 1024 * 1024, announce_length=False)
        server.page("/slow", "late", delay=5.0)
        result = await fetch(server.url("/old"), ...)
        assert server.hits("/story") == 1

Routes are matched on the path (with the query string first, then without). Every request is
recorded (method, path, headers) so tests can check what the client sent. Pages served with an
``etag`` or ``last_modified`` answer 304 to a matching conditional request.
"""

from __future__ import annotations

import asyncio
import gzip as gzip_module
import socket
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web


@dataclass
class Route:
    """How one path is answered."""

    body: bytes = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0  # seconds to wait before answering
    chunked: bool = False  # stream the body without a Content-Length
    gzip: bool = False  # send the body gzip-compressed (Content-Encoding: gzip)
    chunk_size: int = 64 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]


class LocalWebServer:
    """An aiohttp server on 127.0.0.1 (a free port) serving configured routes."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self._hits: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: a client that gives up (timeout, size cap) cancels the handler,
        # so slow and huge routes never keep the server from stopping.
        self._runner = web.AppRunner(
            app, handle_signals=False, handler_cancellation=True, shutdown_timeout=0.5
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalWebServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ configuration

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, *, host: str = "127.0.0.1") -> str:
        """The full URL of ``path``; ``host`` may be another name for this server (localhost)."""
        return f"http://{host}:{self.port}{path}"

    def page(
        self,
        path: str,
        body: str | bytes,
        *,
        content_type: str | None = "text/html; charset=utf-8",
        status: int = 200,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        gzip: bool = False,
        chunked: bool = False,
        encoding: str = "utf-8",
    ) -> Route:
        """Serve ``body`` (a str is encoded with ``encoding``) at ``path``."""
        data = body.encode(encoding) if isinstance(body, str) else body
        route = Route(
            body=data,
            status=status,
            content_type=content_type,
            headers=dict(headers or {}),
            etag=etag,
            last_modified=last_modified,
            delay=delay,
            gzip=gzip,
            chunked=chunked,
        )
        self.routes[path] = route
        return route

    def redirect(self, path: str, location: str, *, status: int = 302) -> None:
        """Answer ``path`` with a redirect to ``location`` (relative or absolute)."""
        self.routes[path] = Route(status=status, content_type=None, headers={"Location": location})

    def redirect_chain(self, prefix: str, hops: int, target: str) -> str:
        """``hops`` redirects ``prefix/0 -> prefix/1 -> ... -> target``; returns the first path."""
        for index in range(hops):
            nxt = f"{prefix}/{index + 1}" if index + 1 < hops else target
            self.redirect(f"{prefix}/{index}", nxt)
        return f"{prefix}/0"

    def huge(
        self,
        path: str,
        size: int,
        *,
        announce_length: bool,
        content_type: str = "text/html; charset=utf-8",
        gzip: bool = False,
    ) -> None:
        """Serve ``size`` bytes of filler, with a Content-Length or chunked."""
        line = b"<p>" + b"Lorem ipsum dolor sit amet. " * 20 + b"</p>\n"
        body = (line * (size // len(line) + 1))[:size]
        self.routes[path] = Route(
            body=body, content_type=content_type, chunked=not announce_length, gzip=gzip
        )

    def fail(self, path: str, status: int = 500, *, headers: dict[str, str] | None = None) -> None:
        """Answer ``path`` with an error status."""
        self.routes[path] = Route(
            body=f"error {status}".encode(),
            status=status,
            content_type="text/plain",
            headers=dict(headers or {}),
        )

    def hits(self, path: str) -> int:
        """How many requests ``path`` has received."""
        return self._hits[path]

    # ------------------------------------------------------------------ serving

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            RecordedRequest(request.method, request.path_qs, dict(request.headers))
        )
        route = self.routes.get(request.path_qs) or self.routes.get(request.path)
        self._hits[request.path] += 1
        if route is None:
            return web.Response(status=404, text="not found")
        if route.delay:
            await asyncio.sleep(route.delay)
        headers = dict(route.headers)
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        if (route.etag and request.headers.get("If-None-Match") == route.etag) or (
            route.last_modified and request.headers.get("If-Modified-Since") == route.last_modified
        ):
            return web.Response(status=304, headers=headers)
        body = route.body
        if route.gzip:
            body = gzip_module.compress(body, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        if route.content_type:
            headers["Content-Type"] = route.content_type
        if not route.chunked:
            return web.Response(status=route.status, body=body, headers=headers)
        response = web.StreamResponse(status=route.status, headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for start in range(0, len(body), route.chunk_size):
                await response.write(body[start : start + route.chunk_size])
            await response.write_eof()
        except ConnectionError:
            pass  # the client stopped reading (size cap): that is the point of the test
        return response
