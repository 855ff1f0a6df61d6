"""The gunicorn worker for the REST server: requests read whole before a thread takes them.

gunicorn's threaded worker hands a connection to a thread as soon as it is readable; the thread
then blocks reading the rest of the request. A client that sends half a request and stalls
holds that thread with no time limit, so a few stalled connections stop a model server with
one thread per worker. This worker reads each request in its event loop, without blocking,
until the headers and the whole body (by Content-Length or chunked encoding) are there; only a
complete request reaches a thread. A request not complete within ``read_timeout_seconds`` is
answered 408 and closed.

It also takes part in the drain (``wrappers.server.drain``): a SIGTERM before the drain's deadline
begins the drain instead of stopping the worker; while draining, every answer closes its
connection so that no idle keep-alive connection is cut when the worker stops; and when it
stops it first takes the connections already waiting in the listen queue.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
import time
from concurrent import futures
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.workers.gthread import TConn, ThreadWorker

from wrappers.server import drain
from wrappers.server.shutdown import exit_now
from wrappers.settings import ServerSettings, Settings

#: how long a connection being read keeps its thread reserved after it connected or last sent
#: bytes: a client sends its request right after connecting, often head and body apart, and a
#: busy machine may delay either by milliseconds
NEXT_BYTES_SECONDS = 0.1
#: a connection keeps no reservation longer than this after it connected, however it trickles
MAX_RESERVED_SECONDS = 1.0
#: larger request heads are handed to gunicorn's parser as they are, which refuses them
MAX_HEAD_BYTES = 64 * 1024
TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\n"
    b'Content-Length: 60\r\n\r\n{"status":{"code":408,"info":"request not received in time"}}'
)


def request_complete(data: bytes | bytearray, max_body: int) -> bool:
    """True once ``data`` holds a whole request head and body, or when only gunicorn's parser
    can tell what is wrong with it (it answers malformed requests itself)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) > MAX_HEAD_BYTES
    length, chunked = None, False
    for line in bytes(data[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return True
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    body = end + 4
    if chunked:
        return _chunks_complete(data, body, max_body)
    if length is None or length > max_body:
        return True
    return len(data) - body >= length


def _chunks_complete(data: bytes | bytearray, position: int, max_body: int) -> bool:
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return False
        try:
            size = int(bytes(data[position:line_end]).split(b";")[0].strip(), 16)
        except ValueError:
            return True
        if size == 0:
            after = line_end + 2
            return data[after : after + 2] == b"\r\n" or data.find(b"\r\n\r\n", after) >= 0
        position = line_end + 2 + size + 2
        if position > max_body:
            return True
        if position > len(data):
            return False


class Prefetched:
    """What gunicorn's parser reads from: the bytes read ahead, then the socket itself."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending = bytearray()

    def recv(self, size: int) -> bytes:
        if self.pending:
            data = bytes(self.pending[:size])
            del self.pending[:size]
            return data
        return self.sock.recv(size)


class Connection(TConn):
    def __init__(
        self, cfg: Any, sock: socket.socket, client: Any, server: Any, read_timeout: float
    ) -> None:
        super().__init__(cfg, sock, client, server)
        self.source = Prefetched(sock)
        self.read_timeout = read_timeout
        self.deadline = float("inf")
        #: until then this connection, still sending its request, counts as a thread's next one
        self.reserved_until = 0.0
        self.reserved_limit = 0.0
        self.continued = False
        #: the idle time a keep-alive answer promised: the drain sets ``keepalive`` to 0 for the
        #: answers after it, not for a connection already promised (its client may be sending
        #: its next request on it right now)
        self.keepalive = cfg.keepalive

    def set_timeout(self) -> None:
        self.timeout = time.time() + self.keepalive

    def init(self) -> None:
        # blocking with a timeout: the parser reads only what is already here, unless a
        # request fooled ``request_complete``
        self.sock.settimeout(self.read_timeout)
        if self.parser is None:
            self.parser = http.RequestParser(self.cfg, self.source, self.client)

    def leftover(self) -> bool:
        """Whether the parser already holds (pipelined) bytes of the next request."""
        unreader = getattr(self.parser, "unreader", None)
        buffered = getattr(unreader, "buf", None)
        return bool(self.source.pending) or bool(buffered is not None and buffered.tell())


class ServingWorker(ThreadWorker):
    """gunicorn's threaded worker with whole-request reads, a read timeout and the drain."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        state = drain.state()
        settings = state.settings if state else ServerSettings.from_env()
        self.read_timeout = settings.read_timeout_seconds
        #: bodies larger than the model accepts are handed on unread, to be refused with 413
        self.max_body = Settings.resolve({}).max_request_bytes
        self._reading: dict[Connection, None] = {}
        #: requests handed to threads and not finished; no more are accepted while every
        #: thread has one, so a worker that dies takes only its own requests with it
        self._busy = 0
        self._accepting = False
        self._closing = False
        #: a finished request wakes the event loop, which may be waiting with nothing to read
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)

    # ---- reading requests ----------------------------------------------------------------

    def accept(self, server: Any, listener: socket.socket) -> bool:
        """Accepts one connection and starts reading it; False when none was waiting."""
        try:
            sock, client = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return False
        self.nr_conns += 1
        conn = Connection(self.cfg, sock, client, server, self.read_timeout)
        now = time.monotonic()
        conn.reserved_until = now + NEXT_BYTES_SECONDS
        conn.reserved_limit = now + MAX_RESERVED_SECONDS
        self._read(conn)
        self._readable(conn, sock)
        return True

    def _read(self, conn: Connection) -> None:
        conn.sock.setblocking(False)
        conn.deadline = time.monotonic() + self.read_timeout
        with self._lock:
            self._reading[conn] = None
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, conn))

    def _readable(self, conn: Connection, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        # a client that stalls gives up its reservation soon; one that trickles, within a second
        conn.reserved_until = min(time.monotonic() + NEXT_BYTES_SECONDS, conn.reserved_limit)
        pending = conn.source.pending
        pending += data
        if request_complete(pending, self.max_body):
            self._unwatch(conn)
            self.enqueue_req(conn)
        elif not conn.continued and b"100-continue" in pending.lower():
            conn.continued = True  # the client waits for this before it sends the body
            self._send(conn, b"HTTP/1.1 100 Continue\r\n\r\n")

    def reuse_connection(self, conn: Connection, client: socket.socket) -> None:
        with self._lock:
            self.poller.unregister(client)
            try:
                self._keep.remove(conn)
            except ValueError:
                return
        conn.continued = False
        if conn.leftover():
            self.enqueue_req(conn)
        else:
            self._read(conn)
            self._readable(conn, client)

    def murder_keepalived(self) -> None:
        super().murder_keepalived()
        now = time.monotonic()
        with self._lock:
            late = [conn for conn in self._reading if conn.deadline <= now]
        for conn in late:
            self._send(conn, TIMEOUT_ANSWER)
            self._drop(conn)

    def _unwatch(self, conn: Connection) -> None:
        with self._lock:
            self._reading.pop(conn, None)
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.poller.unregister(conn.sock)

    def _drop(self, conn: Connection) -> None:
        self._unwatch(conn)
        self.nr_conns -= 1
        conn.close()

    @staticmethod
    def _send(conn: Connection, data: bytes) -> None:
        with contextlib.suppress(OSError):
            conn.sock.send(data)

    # ---- draining and stopping -------------------------------------------------------------

    def handle_exit(self, sig: int, frame: Any) -> None:
        state = drain.state()
        if state is None or state.stops_on_sigterm():
            self.alive = False
        else:
            state.begin()

    def handle_request(self, req: Any, conn: Any) -> bool:
        if self.cfg.keepalive and drain.draining():
            self.cfg.set("keepalive", 0)  # every answer from now on closes its connection
        return super().handle_request(req, conn)

    def enqueue_req(self, conn: Connection) -> None:
        with self._lock:
            self._busy += 1
        super().enqueue_req(conn)

    def finish_request(self, fs: futures.Future) -> None:
        with self._lock:
            self._busy -= 1
        super().finish_request(fs)
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_write, b"\0")

    def _woken(self, pipe: int) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(pipe, 4096):
                pass

    def _reserved(self, now: float) -> list[float]:
        """When each reservation of a connection still sending its request ends."""
        with self._lock:
            return [c.reserved_until for c in self._reading if c.reserved_until > now]

    def _accept_when_free(self, reserved: int) -> None:
        """Listens only while a thread is free: connections accepted but waiting for a thread
        would be lost with the worker, while the listen queue keeps them for another one."""
        free = self._busy + reserved < self.cfg.threads and not self._closing
        if free == self._accepting:
            return
        with self._lock:
            for listener in self.sockets:
                if free:
                    acceptor = partial(self.accept, listener.getsockname())
                    self.poller.register(listener, selectors.EVENT_READ, acceptor)
                else:
                    self.poller.unregister(listener)
        self._accepting = free

    def run(self) -> None:
        for listener in self.sockets:
            listener.setblocking(False)
        self.poller.register(self._wake_read, selectors.EVENT_READ, self._woken)
        while self.alive:
            self._turn(timeout=1.0)
            if not self.is_parent_alive():
                break
        self._finish()
        self.log.info("Worker exiting (pid: %s)", self.pid)
        try:
            self.cfg.worker_exit(None, self)
        except Exception:
            self.log.exception("worker_exit hook failed")
        exit_now(0)

    def _turn(self, timeout: float) -> None:
        self.notify()
        now = time.monotonic()
        reserved = self._reserved(now)
        self._accept_when_free(len(reserved))
        if reserved:  # wake when a reservation ends, to accept again
            timeout = min(timeout, max(0.0, min(reserved) - now))
        if self.nr_conns < self.worker_connections:
            for key, _ in self.poller.select(timeout):
                key.data(key.fileobj)
            result = futures.wait(self.futures, timeout=0, return_when=futures.FIRST_COMPLETED)
        else:
            result = futures.wait(
                self.futures, timeout=timeout, return_when=futures.FIRST_COMPLETED
            )
        for done in result.done:
            self.futures.remove(done)
        self.murder_keepalived()

    def _finish(self) -> None:
        """Stops accepting, but answers every request already sent: those waiting in the
        listen queue (closing it would reset them), those being read, those in threads."""
        self._closing = True
        self._accept_when_free(0)
        for listener in self.sockets:
            while self.accept(listener.getsockname(), listener):
                pass
            listener.close()
        limit = time.monotonic() + self.cfg.graceful_timeout
        while (self._reading or self.futures) and time.monotonic() < limit:
            self._turn(timeout=0.05)
        self.tpool.shutdown(False)
        self.poller.close()
