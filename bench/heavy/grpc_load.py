"""gRPC load, as ``wrk`` gives REST load: ``connections`` calls kept in flight for ``seconds``.

``python -m bench.heavy.grpc_load TARGET METHOD BODY CONNECTIONS SECONDS`` sends the serialized
request in the file BODY (no encoding per call) over one HTTP/2 channel and prints one line
``BENCH {...}`` with the keys ``bench/post.lua`` prints.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import grpc
import numpy as np

UNLIMITED = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


async def load(target: str, method: str, body: bytes, connections: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    async with grpc.aio.insecure_channel(target, options=UNLIMITED) as channel:
        call = channel.unary_unary(method)  # bytes in, bytes out
        started = time.perf_counter()
        stop = started + seconds

        async def caller() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                sent = time.perf_counter()
                try:
                    await call(body, timeout=10)
                except grpc.aio.AioRpcError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - sent)

        await asyncio.gather(*(caller() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    us = np.asarray(latencies or [0.0]) * 1e6
    return {
        "requests": len(latencies) + errors,
        "duration_us": int(elapsed * 1e6),
        "socket_errors": 0,
        "status_errors": errors,
        "p50_us": int(np.percentile(us, 50)),
        "p99_us": int(np.percentile(us, 99)),
        "mean_us": float(us.mean()),
    }


def main() -> None:
    target, method, body, connections, seconds = sys.argv[1:6]
    stats = asyncio.run(
        load(target, method, Path(body).read_bytes(), int(connections), float(seconds))
    )
    print("BENCH " + json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
