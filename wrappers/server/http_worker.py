"""The gunicorn worker for the REST server: requests read whole before a thread takes them.

gunicorn's threaded worker hands a connection to a thread as soon as it is readable; the thread
then blocks reading the rest of the request, and each byte restarts its read timeout. A client
that trickles a request holds that thread as long as it likes, so a few such clients stop a model
server with one thread per worker. This worker reads requests in its event loop instead:

- **Framing** is h11's (``wrappers.server.http_framing``), with limits on the head, each chunk and
  the body. Every malformed or oversized request is answered (400, 413, 414, 431) by the event loop
  and closed; no thread sees it. After such an answer the rest of the request is read and thrown
  away until the client closes or the request's deadline passes, so the answer is not lost to a
  reset.
- **A whole-request deadline.** A request not received whole within ``read_timeout_seconds``
  of its first byte (of the connection, for the first request) is answered 408 and closed, at
  whatever stage it is; a refused request is closed at that deadline too.
- **Only complete requests reach a thread**, rebuilt with a ``Content-Length`` and parsed by
  gunicorn from memory: the thread writes the answer and reads nothing from the socket.

Accepting connections and the worker-kill guarantee. Reading costs no thread, so connections
could be accepted without bound; but a connection accepted and complete that waits for a thread
dies with the worker if it is killed, while one left in the listen queue is taken by another
worker. So the worker listens only while a thread is free (``_busy`` counts requests handed to
threads and not finished, waiting ones included). A client's request usually arrives within a
millisecond of its connection (head and body sometimes apart), so a new connection holds the
free thread for ``NEXT_BYTES_SECONDS`` after it connected or last sent bytes, at most
``MAX_RESERVED_SECONDS`` after it connected; past that, a connection still sending is read on
without holding anything. Trickling clients, and floods of connections that send only a head,
thus delay accepting by at most that hold each, and a killed worker loses at most the requests
in its threads (a request read in parts that completes while the threads are busy may wait as
well: those are bounded by the connections being read, and are rare).

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
from itertools import takewhile
from typing import Any

from gunicorn.http.message import Request
from gunicorn.workers.gthread import TConn, ThreadWorker

from wrappers.server import drain
from wrappers.server.http_framing import Refused, RequestReader, error_answer
from wrappers.server.shutdown import exit_now
from wrappers.settings import ServerSettings, serving

#: how long a new connection keeps a free thread for itself after it connected or last sent
#: bytes: a client sends its request right after connecting, sometimes head and body apart
NEXT_BYTES_SECONDS = 0.01
#: a connection holds no thread longer than this after it connected, however it trickles
MAX_RESERVED_SECONDS = 0.05
READ_BYTES = 65536
CONTINUE_ANSWER = b"HTTP/1.1 100 Continue\r\n\r\n"


class Connection(TConn):
    def __init__(
        self, cfg: Any, sock: socket.socket, client: Any, server: Any, read_timeout: float
    ) -> None:
        super().__init__(cfg, sock, client, server)
        self.read_timeout = read_timeout
        self.reader: RequestReader | None = None
        #: bytes received after the request a thread answers: the next one's start
        self.leftover = b""
        self.deadline = float("inf")
        #: until then this connection, still sending its request, counts as a thread's next one
        self.reserved_until = 0.0
        self.reserved_limit = 0.0
        self.continued = False
        #: answered with an error: what it still sends is thrown away until it closes
        self.refused = False
        #: the idle time a keep-alive answer promised: the drain sets ``keepalive`` to 0 for the
        #: answers after it, not for a connection already promised (its client may be sending
        #: its next request on it right now)
        self.keepalive = cfg.keepalive

    def set_timeout(self) -> None:
        self.timeout = time.time() + self.keepalive

    def init(self) -> None:
        # the request is in memory already: the timeout bounds writing the answer
        self.sock.settimeout(self.read_timeout)


class ServingWorker(ThreadWorker):
    """gunicorn's threaded worker with whole-request reads, a read deadline and the drain."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        state = drain.state()
        settings = state.settings if state else ServerSettings.from_env()
        self.read_timeout = settings.read_timeout_seconds
        self.max_body = serving().max_request_bytes
        #: connections whose request is being read, in the order of their deadlines
        self._reading: dict[Connection, None] = {}
        #: kept-alive connections that already hold (pipelined) bytes of their next request
        self._pipelined: list[Connection] = []
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
        """Starts reading the connection's next request; its deadline runs from now."""
        conn.sock.setblocking(False)
        conn.reader = RequestReader(self.max_body)
        conn.continued = conn.refused = False
        conn.deadline = time.monotonic() + self.read_timeout
        with self._lock:
            self._reading[conn] = None
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, conn))

    def _readable(self, conn: Connection, sock: socket.socket) -> None:
        try:
            data = sock.recv(READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if conn.refused:
            if not data:
                self._drop(conn)
            return
        if data:  # a client that stalls gives up its reservation soon, one that trickles too
            conn.reserved_until = min(time.monotonic() + NEXT_BYTES_SECONDS, conn.reserved_limit)
        self._received(conn, data)

    def _received(self, conn: Connection, data: bytes) -> None:
        """Feeds the bytes to the request's reader; hands it on once whole, answers refusals."""
        reader = conn.reader
        assert reader is not None
        try:
            request = reader.parsed(self.cfg, conn.client) if reader.feed(data) else None
        except Refused as refusal:
            self._refuse(conn, refusal, closed=not data)
            return
        if request is not None:
            self._hand_over(conn, request)
        elif not data:
            self._drop(conn)
        elif not conn.continued and reader.expects_continue():
            conn.continued = True  # the client waits for this before it sends the body
            self._send(conn, CONTINUE_ANSWER)

    def _refuse(self, conn: Connection, refusal: Refused, closed: bool) -> None:
        """Answers the error; then reads and drops what the client still sends, until it
        closes or the deadline passes, so that closing does not reset the answer away."""
        self._send(conn, error_answer(refusal.status, refusal.info))
        if closed:
            self._drop(conn)
            return
        conn.refused = True
        conn.reader = None
        conn.reserved_until = 0.0
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_WR)

    def _hand_over(self, conn: Connection, request: Request) -> None:
        """A whole request to a thread: gunicorn's handler takes it from ``conn.parser``."""
        assert conn.reader is not None
        conn.leftover = conn.reader.leftover()
        conn.reader = None
        conn.parser = iter([request])
        self._unwatch(conn)
        self.enqueue_req(conn)

    def reuse_connection(self, conn: Connection, client: socket.socket) -> None:
        with self._lock:
            try:
                self._keep.remove(conn)
            except ValueError:
                return
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.poller.unregister(client)
        leftover, conn.leftover = conn.leftover, b""
        self._read(conn)
        if leftover:
            self._received(conn, leftover)
        else:
            self._readable(conn, client)

    def murder_keepalived(self) -> None:
        super().murder_keepalived()
        self._expire(time.monotonic())

    def _expire(self, now: float) -> None:
        """Answers 408 to every request past its deadline (the oldest come first) and closes
        it; a refused one is just closed."""
        with self._lock:
            late = list(takewhile(lambda conn: conn.deadline <= now, self._reading))
        for conn in late:
            if not conn.refused:
                info = f"request not received whole within {self.read_timeout:g} s"
                self._send(conn, error_answer(408, info + " (read_timeout_seconds)"))
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
        conn = fs.conn
        if conn.leftover:  # its next request may never make the socket readable again
            with self._lock:
                self._pipelined.append(conn)
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_write, b"\0")

    def _woken(self, pipe: int) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(pipe, 4096):
                pass
        with self._lock:
            pipelined, self._pipelined = self._pipelined, []
        for conn in pipelined:
            self.reuse_connection(conn, conn.sock)

    def _reserved(self, now: float) -> list[float]:
        """When each reservation of a connection still sending its request ends."""
        with self._lock:
            return [c.reserved_until for c in self._reading if c.reserved_until > now]

    def _accept_when_free(self, reserved: int) -> None:
        """Listens only while a thread is free: connections accepted but waiting for a thread
        would be lost with the worker, while the listen queue keeps them for another one."""
        free = (
            self._busy + reserved < self.cfg.threads
            and self.nr_conns < self.worker_connections
            and not self._closing
        )
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

    def _next_wake(self, now: float, reserved: list[float], timeout: float) -> float:
        """Wakes when a reservation ends (to accept again) or the first deadline passes."""
        with self._lock:
            first = next(iter(self._reading), None)
        ends = [*reserved, first.deadline if first else now + timeout]
        return max(0.0, min(timeout, min(ends) - now))

    def _turn(self, timeout: float) -> None:
        self.notify()
        now = time.monotonic()
        reserved = self._reserved(now)
        self._accept_when_free(len(reserved))
        for key, _ in self.poller.select(self._next_wake(now, reserved, timeout)):
            key.data(key.fileobj)
        result = futures.wait(self.futures, timeout=0, return_when=futures.FIRST_COMPLETED)
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
