"""HTTP framing against the real REST worker: raw sockets, hostile framing, trickling clients.

One server (one worker, one thread, a short read timeout) takes every attack: a fuzzer over
request heads, chunked bodies, lengths and trickle timing, then each known attack on its own.
Every answer must be complete (its body exactly its Content-Length), never 5xx, and come in
time; afterwards a normal request still gets its correct answer.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import pytest
import requests
from conftest import MODELS_DIR
from fuzzing import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelrepo.local.process import Microservice
from wrappers.server.http_framing import MAX_HEAD_BYTES

pytestmark = pytest.mark.e2e

MODEL = MODELS_DIR / "sklearn-iris"
PREDICT = b"/api/v1.0/predictions"
READ_TIMEOUT = 3.0
#: an answer expected at once comes within this (a busy machine, two shared cores)
PROMPT = 2.0
#: how late after the read timeout a 408 or a close may come
MARGIN = 3.0
BODY = (MODEL / "request.json").read_bytes()
HEAD = b"POST /api/v1.0/predictions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
CHUNKED = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
#: what each attack may be answered: refusals, and the app's own client errors
ALLOWED = {200, 400, 404, 405, 408, 413, 414, 415, 431}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Microservice]:
    log = tmp_path_factory.mktemp("framing") / "server.log"
    env = {"MODELREPO_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT), "GRPC_WORKERS": "0"}
    with Microservice(MODEL, workers=1, threads=1, env=env, log_path=log) as running:
        yield running


@pytest.fixture(scope="module")
def expected(service: Microservice) -> object:
    """The prediction for the model's example request, sent the ordinary way."""
    answer = requests.post(service.url + PREDICT.decode(), data=BODY, timeout=30, headers=JSON)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


JSON = {"Content-Type": "application/json"}


# ---- reading answers strictly -------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def parse_answers(data: bytes) -> list[Answer]:
    """Every answer in ``data``; fails on anything that is not a whole answer with a body of
    exactly its Content-Length (interim 100 answers are skipped)."""
    answers = []
    while data:
        head, end, data = data.partition(b"\r\n\r\n")
        assert end, f"an answer without the end of its head: {head[:200]!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        match = re.fullmatch(r"HTTP/1\.[01] (\d{3}) .*", status_line)
        assert match, f"not a status line: {status_line[:200]!r}"
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(match[1])
        if status < 200:
            continue
        length = int(headers["content-length"])
        assert len(data) >= length, f"{status}: {len(data)} bytes of a body of {length}"
        answers.append(Answer(status, headers, data[:length]))
        data = data[length:]
    return answers


def error_info(answer: Answer) -> str:
    """The message of Seldon's error shape; fails unless the body is exactly that shape."""
    assert answer.headers.get("content-type") == "application/json", answer
    status = json.loads(answer.body)["status"]
    assert status["status"] == 1 and status["code"] == answer.status, status
    assert status["reason"], status
    return status["info"]


def read_all(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """What arrives until the server closes (True) or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    received = bytearray()
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return bytes(received), True
        if not data:
            return bytes(received), True
        received += data
    return bytes(received), False


def first_answer(sock: socket.socket, timeout: float = PROMPT) -> tuple[Answer, float]:
    """The first whole answer on ``sock`` and how long it took."""
    started = time.monotonic()
    received = bytearray()
    sock.settimeout(timeout)
    while b"\r\n\r\n" not in received or not parse_complete(received):
        data = sock.recv(65536)
        assert data, f"closed without a whole answer: {bytes(received)[:300]!r}"
        received += data
    return parse_answers(bytes(received))[0], time.monotonic() - started


def parse_complete(data: bytearray) -> bool:
    try:
        return bool(parse_answers(bytes(data)))
    except AssertionError:
        return False


def assert_serves(service: Microservice, expected: object) -> float:
    """A normal request gets its correct answer; returns how long it took."""
    started = time.monotonic()
    answer = requests.post(service.url + PREDICT.decode(), data=BODY, timeout=30, headers=JSON)
    took = time.monotonic() - started
    assert answer.status_code == 200 and answer.json()["data"] == expected, answer.text
    return took


# ---- the fuzzer ---------------------------------------------------------------------------------

EOL = st.sampled_from([b"\r\n"] * 6 + [b"\n", b"\r"])
METHODS = st.sampled_from([b"POST"] * 4 + [b"GET", b"PUT", b"post", b"", b"P\x00ST", b"POST /"])
TARGETS = st.sampled_from(
    [PREDICT] * 4
    + [b"/predict", b"/health/status", b"*", b"", b"/%ff", b"/a b", b"/" + b"a" * 5000]
)
VERSIONS = st.sampled_from([b"HTTP/1.1"] * 4 + [b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1x", b""])
HEADER_NAMES = st.sampled_from(
    [
        *(b"Host", b"Content-Type", b"Expect", b"Connection", b"Transfer-Encoding"),
        *(b"Content-Length", b"X-A", b"", b"Bad Name", b"X\x7f", b" Host"),
    ]
)
HEADER_VALUES = st.sampled_from(
    [
        *(b"x", b"application/json", b"100-continue", b"close", b"keep-alive", b"chunked"),
        *(b"gzip", b"chunked, chunked", b"-1", b"0", b"99999999999999999999", b"zz", b"\x00", b""),
    ]
)
SIZES = st.one_of(
    st.integers(0, 0x40).map(lambda n: b"%x" % n),
    st.sampled_from([b"-6", b"zz", b"", b" 5", b"0x5", b"FFFFFFFFFFFFFFFFFFFFF", b"7fffffff"]),
    st.sampled_from([b"5;ext=1", b"5 ;x", b"+5", b"5\x00"]),
)


@st.composite
def chunked_body(draw: st.DrawFn, body: bytes) -> bytes:
    """``body`` in chunks; sometimes with a forged size, a bad terminator or trailers."""
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    out = bytearray()
    for piece in pieces:
        size = draw(st.one_of(st.just(b"%x" % len(piece)), SIZES))
        ending = draw(st.sampled_from([b"\r\n"] * 5 + [b"", b"XX", b"\n"]))
        out += size + b"\r\n" + piece + ending
    out += draw(st.sampled_from([b"0\r\n\r\n"] * 4 + [b"0\r\nX-T: 1\r\n\r\n", b"0\r\n", b""]))
    return bytes(out)


@st.composite
def valid_request(draw: st.DrawFn) -> tuple[bytes, bool]:
    """The model's example request, by Content-Length or in chunks."""
    if draw(st.booleans()):
        return HEAD + b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY, True
    cuts = sorted(draw(st.lists(st.integers(1, len(BODY) - 1), max_size=6, unique=True)))
    pieces = [BODY[a:b] for a, b in zip([0, *cuts], [*cuts, len(BODY)], strict=True)]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)
    return CHUNKED + chunks + b"0\r\n\r\n", True


@st.composite
def hostile_request(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A request with its head, lengths and chunks drawn from junk and near misses."""
    eol = draw(EOL)
    line = b" ".join([draw(METHODS), draw(TARGETS), draw(VERSIONS)])
    headers = [b"Host: x", b"Content-Type: application/json"][: draw(st.integers(0, 2))]
    pairs = draw(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=4))
    headers += [name + b": " + value for name, value in pairs]
    body = draw(st.one_of(st.just(BODY), st.binary(max_size=64)))
    framing = draw(st.sampled_from(["length", "wrong length", "chunked", "none"]))
    if framing == "length":
        headers.append(b"Content-Length: %d" % len(body))
    elif framing == "wrong length":
        headers.append(b"Content-Length: %d" % max(0, len(body) + draw(st.integers(-5, 5))))
    elif framing == "chunked":
        headers.append(b"Transfer-Encoding: chunked")
        body = draw(chunked_body(body))
    head = eol.join([line, *headers]) + eol + eol
    tail = draw(st.sampled_from([b"", b"", b"GET /health/status HTTP/1.1\r\nHost: x\r\n\r\n"]))
    return head + body + tail, False


@st.composite
def trickled(draw: st.DrawFn, data: bytes) -> list[tuple[bytes, float]]:
    """``data`` cut into pieces, each sent after a short pause."""
    cuts = sorted(draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=5, unique=True)))
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    return [(piece, draw(st.sampled_from([0.0, 0.0, 0.01, 0.05]))) for piece in pieces if piece]


def exchange(service: Microservice, pieces: list[tuple[bytes, float]]) -> tuple[bytes, bool]:
    """Sends the pieces, ends the stream, and reads until the server closes."""
    with socket.create_connection((service.host, service.http_port), timeout=30) as sock:
        for piece, pause in pieces:
            time.sleep(pause)
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break  # refused and closed already: what it answered is still to be read
        with suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        return read_all(sock, READ_TIMEOUT + MARGIN)


def test_framing_fuzz_gets_complete_answers_never_5xx_nor_a_hang(service, expected, reliability):
    counts: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.one_of(valid_request(), hostile_request()).flatmap(sent_as))
    def check(case: tuple[bytes, bool, list[tuple[bytes, float]]]) -> None:
        data, valid, pieces = case
        counts["requests"] += 1
        received, closed = exchange(service, pieces)
        counts["hangs"] += not closed
        assert closed, f"no close within {READ_TIMEOUT + MARGIN} s: {received[:300]!r}"
        answers = parse_answers(received)
        counts["server_errors"] += sum(a.status >= 500 for a in answers)
        counts["bad_inputs"] += not valid
        assert answers, f"closed without an answer to {data[:300]!r}"
        assert {a.status for a in answers} <= ALLOWED, [(a.status, a.body[:300]) for a in answers]
        for answer in answers:
            if answer.status >= 400:
                error_info(answer)
        if valid:
            assert [a.status for a in answers] == [200], answers
            assert json.loads(answers[0].body)["data"] == expected

    try:
        check()
    finally:
        reliability.add("HTTP framing fuzz", **counts)
    assert_serves(service, expected)


def sent_as(case: tuple[bytes, bool]) -> st.SearchStrategy:
    data, valid = case
    return trickled(data).map(lambda pieces: (data, valid, pieces))


# ---- each known attack ------------------------------------------------------------------------


@contextmanager
def connected(service: Microservice, first: bytes) -> Iterator[socket.socket]:
    with socket.create_connection((service.host, service.http_port), timeout=30) as sock:
        sock.sendall(first)
        yield sock


class Trickler:
    """Sends one byte a second on each of its sockets, in the background, until stopped."""

    def __init__(self, socks: list[socket.socket], byte: bytes = b"a") -> None:
        self.socks, self.byte = socks, byte
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            for sock in self.socks:
                with suppress(OSError):  # closed by the server: its deadline passed
                    sock.send(self.byte)

    def __enter__(self) -> Trickler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def refused_at_once(
    service: Microservice, expected: object, first: bytes, status: int, fragment: str
) -> None:
    """``first`` is answered ``status`` at once though the client goes on trickling; the
    server serves others meanwhile and closes the connection by the read deadline."""
    with connected(service, first) as sock, Trickler([sock]):
        answer, _ = first_answer(sock)
        assert answer.status == status, answer
        assert fragment in error_info(answer)
        assert_serves(service, expected)
        _, closed = read_all(sock, READ_TIMEOUT + MARGIN)
        assert closed, "a refused connection outlived the read deadline"


@pytest.mark.parametrize(
    ("name", "chunks", "fragment"),
    [
        ("negative chunk size", b"-6\r\nabcdef\r\n0\r\n\r\n", "illegal chunk header"),
        ("chunk size zz", b"zz\r\nabc\r\n0\r\n\r\n", "illegal chunk header"),
        ("chunk missing its terminator", b"3\r\nabcXX0\r\n\r\n", "chunk footer"),
    ],
)
def test_malformed_chunks_get_400_at_once(service, expected, reliability, name, chunks, fragment):
    with connected(service, CHUNKED + chunks) as sock:
        answer, took = first_answer(sock)
        assert answer.status == 400, answer
        assert fragment in error_info(answer)
        assert took < PROMPT
    assert_serves(service, expected)
    reliability.add("HTTP framing attacks", requests=2, bad_inputs=1)


def test_a_head_over_the_limit_trickled_gets_431(service, expected, reliability):
    head = b"POST /api/v1.0/predictions HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (72 * 1024)
    refused_at_once(service, expected, head, 431, f"over {MAX_HEAD_BYTES} bytes")
    reliability.add("HTTP framing attacks", requests=2, bad_inputs=1)


def test_a_first_chunk_over_the_limit_trickled_gets_413(service, expected, reliability):
    refused_at_once(service, expected, CHUNKED + b"7fffffff\r\nab", 413, "exceeds the limit")
    reliability.add("HTTP framing attacks", requests=2, bad_inputs=1)


def test_a_content_length_over_the_limit_then_trickled_bytes_gets_413(
    service, expected, reliability
):
    head = HEAD + b"Content-Length: 999999999999\r\n\r\n{"
    refused_at_once(service, expected, head, 413, "of 999999999999 bytes exceeds the limit")
    reliability.add("HTTP framing attacks", requests=2, bad_inputs=1)


def test_a_request_not_whole_in_time_gets_a_408_as_long_as_it_says(service, reliability):
    with connected(service, HEAD + b"Content-Length: 100\r\n\r\n{") as sock, Trickler([sock]):
        received, closed = read_all(sock, READ_TIMEOUT + MARGIN)
    assert closed, "still open after the read deadline"
    (answer,) = parse_answers(received)  # nothing after the body its Content-Length declares
    assert answer.status == 408
    assert "read_timeout_seconds" in error_info(answer)
    reliability.add("HTTP framing attacks", requests=1, bad_inputs=1)


def test_a_normal_request_is_answered_within_1s_behind_64_trickling_connections(
    service, expected, reliability
):
    socks = [socket.create_connection((service.host, service.http_port)) for _ in range(64)]
    try:
        for sock in socks:
            sock.sendall(HEAD + b"Content-Length: 1000\r\n\r\n")
        with Trickler(socks):
            time.sleep(1.5)  # every one of them has trickled a byte or more
            took = assert_serves(service, expected)
    finally:
        for sock in socks:
            sock.close()
    reliability.add(
        "HTTP framing attacks",
        requests=65,
        bad_inputs=64,
        answer_seconds_behind_64_trickling=round(took, 3),
    )
    assert took < 1.0


def test_a_normal_request_is_answered_within_1s_during_a_flood_of_heads(
    service, expected, reliability
):
    """200 connections opened at 40 a second, each sending a head and nothing more."""
    socks: list[socket.socket] = []

    def flood() -> None:
        for _ in range(200):
            sock = socket.create_connection((service.host, service.http_port))
            sock.sendall(HEAD + b"Content-Length: 1000\r\n\r\n")
            socks.append(sock)
            time.sleep(1 / 40)

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    try:
        time.sleep(2.5)  # about 100 heads in, the earliest near their deadline
        took = assert_serves(service, expected)
        flooder.join(timeout=30)
    finally:
        for sock in socks:
            sock.close()
    reliability.add(
        "HTTP framing attacks",
        requests=201,
        bad_inputs=200,
        answer_seconds_during_head_flood=round(took, 3),
    )
    assert took < 1.0


def test_the_body_limit_given_as_a_seldon_parameter_holds_in_the_worker(tmp_path):
    """``max_request_bytes`` as a Seldon ``--parameters`` entry: the worker refuses a longer
    Content-Length from the head alone, before any body byte (it read only the environment)."""
    limit = [{"name": "max_request_bytes", "value": "1000", "type": "INT"}]
    env = {"MODELREPO_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT), "GRPC_WORKERS": "0"}
    args = ["--parameters", json.dumps(limit)]
    with Microservice(MODEL, env=env, extra_args=args, log_path=tmp_path / "log") as service:
        head = HEAD + b"Content-Length: 5000\r\n\r\n"
        with connected(service, head) as sock:
            answer, took = first_answer(sock)
        assert answer.status == 413, answer
        assert "of 5000 bytes exceeds the limit" in error_info(answer)
        assert took < PROMPT
