"""HTTP/1.1 request framing for the REST worker's event loop: h11 reads it, within limits.

The worker reads each request in its event loop before any thread takes it. h11 finds where the
request ends (``Content-Length`` or chunked encoding) and refuses what is malformed; this module
adds the limits (head, chunk and body size) and turns every refusal into one complete answer in
Seldon's error shape. A complete request's head is then rebuilt with a ``Content-Length`` and
parsed by gunicorn's own parser from memory, and its body handed over whole, so the thread that
answers it reads nothing from the socket and gunicorn never sees a framing that h11 did not check.
"""

from __future__ import annotations

import io
import json
from http import HTTPStatus
from typing import Any

import h11
from gunicorn.http import RequestParser
from gunicorn.http import errors as gunicorn_errors
from gunicorn.http.message import Request

from wrappers.errors import PayloadTooLarge, error_body

#: a request head (request line and headers) larger than this is refused with 431; h11 applies
#: it to any line it waits for, chunk headers and trailers included
MAX_HEAD_BYTES = 64 * 1024
#: refusal messages quote at most this much of what the client sent
MAX_INFO_CHARS = 300
#: headers that frame the body as it came; the rebuilt request carries a Content-Length instead
FRAMING_HEADERS = frozenset({b"content-length", b"transfer-encoding", b"expect"})


class Refused(Exception):
    """A request answered with an error by the event loop; the connection is then closed."""

    def __init__(self, status: int, info: str) -> None:
        super().__init__(info)
        self.status = status
        self.info = info if len(info) <= MAX_INFO_CHARS else info[:MAX_INFO_CHARS] + "..."


def error_answer(status: int, info: str) -> bytes:
    """A whole HTTP answer in Seldon's error shape, its Content-Length that of its body."""
    reason = (
        PayloadTooLarge.reason
        if status == 413
        else "HTTP_" + HTTPStatus(status).phrase.upper().replace(" ", "_")
    )
    body = json.dumps(error_body(info, status, reason), separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def too_large(max_body: int, length: int | None = None) -> Refused:
    """The 413 the REST blueprint would give, said before the body is read."""
    size = f"of {length} bytes " if length is not None else ""
    return Refused(
        413, f"request body {size}exceeds the limit of {max_body} bytes (max_request_bytes)"
    )


def refusal(error: h11.RemoteProtocolError) -> Refused:
    """400 for what h11 finds malformed (501 for unknown codings too: the client's fault)."""
    if error.error_status_hint == 431:
        return Refused(431, f"request head or chunk line over {MAX_HEAD_BYTES} bytes")
    return Refused(400, f"malformed HTTP request: {error}")


class RequestReader:
    """One request, fed the bytes as they arrive; ``feed`` says when it is complete."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.request: h11.Request | None = None
        self.body = bytearray()
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)

    def feed(self, data: bytes) -> bool:
        """True once the whole request is here; ``b""`` is the end of the stream. Raises
        ``Refused`` for a malformed request or one over a limit."""
        self._h11.receive_data(data)
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as error:
                raise refusal(error) from None
            if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                self._check_announced()
                return False
            if isinstance(event, h11.Request):
                self._check_head(event)
            elif isinstance(event, h11.Data):
                self.body += event.data
                self._check_announced()
            elif isinstance(event, h11.EndOfMessage):
                return True

    def _check_head(self, request: h11.Request) -> None:
        names = {name for name, _ in request.headers}
        if {b"content-length", b"transfer-encoding"} <= names:
            raise Refused(400, "malformed HTTP request: both Content-Length and Transfer-Encoding")
        for name, value in request.headers:
            if name == b"content-length" and int(value) > self.max_body:
                raise too_large(self.max_body, int(value))
        self.request = request

    def _check_announced(self) -> None:
        if len(self.body) + self._announced() > self.max_body:
            raise too_large(self.max_body)

    def _announced(self) -> int:
        """Bytes of the current chunk announced and not yet received. h11 (pinned) keeps the
        count in its chunked reader; a chunk over the limit is refused from its size line."""
        reader = getattr(self._h11, "_reader", None)
        return int(getattr(reader, "_bytes_in_chunk", 0))

    def expects_continue(self) -> bool:
        """The client waits for ``100 Continue`` before it sends the body."""
        return self._h11.they_are_waiting_for_100_continue

    def leftover(self) -> bytes:
        """Bytes received after the request: the start of the next one (pipelined)."""
        return self._h11.trailing_data[0]

    def head(self) -> bytes:
        """The request's head, its body framed by a ``Content-Length``."""
        assert self.request is not None
        request = self.request
        lines = [b"%s %s HTTP/%s" % (request.method, request.target, request.http_version)]
        for name, value in request.headers.raw_items():
            if name.lower() not in FRAMING_HEADERS:
                lines.append(name + b": " + value)
        lines.append(b"Content-Length: %d" % len(self.body))
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def parsed(self, cfg: Any, client: Any) -> Request:
        """gunicorn's request, its head parsed from memory, its own limits (request line, header
        count and size) refusing here, before any thread. The body is the bytes already read:
        gunicorn's reader would copy what remains of it for every KiB the application reads, which
        cost a 600 KB image 20 ms."""
        try:
            request = next(RequestParser(cfg, [self.head()], client))
        except gunicorn_errors.LimitRequestLine as error:
            raise Refused(414, f"request line too long: {error}") from None
        except gunicorn_errors.LimitRequestHeaders as error:
            raise Refused(431, f"request headers too large: {error}") from None
        except (gunicorn_errors.ParseException, gunicorn_errors.NoMoreData) as error:
            raise Refused(400, f"malformed HTTP request: {error}") from None
        request.body = io.BytesIO(self.body)
        return request
