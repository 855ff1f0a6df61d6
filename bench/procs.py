"""CPU time and memory of a server's processes, read from /proc (Linux)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessSample:
    pid: int
    cpu_ticks: int
    rss_mb: float
    pss_mb: float  # shared pages counted once across processes: sums to real memory


def session_sample(session: int) -> dict[int, ProcessSample]:
    """Every process of a session (a server started with ``start_new_session``)."""
    samples = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:  # the process ended meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # fields[0] is the state, field 3 of stat(5)
        if int(fields[3]) != session:
            continue
        rss_kb = next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
        pid = int(entry)
        ticks = int(fields[11]) + int(fields[12])
        samples[pid] = ProcessSample(pid, ticks, rss_kb / 1024, _pss_kb(pid) / 1024)
    return samples


def _pss_kb(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next(
        (int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0
    )


@dataclass(frozen=True)
class Memory:
    worker_rss_mb: float  # the largest process that did work during the measurement
    total_pss_mb: float  # all processes of the server, shared pages counted once
    busy: int  # how many processes did work
    cpu_s: float  # CPU time all processes of the server used


def memory_of_busy(before: dict[int, ProcessSample], after: dict[int, ProcessSample]) -> Memory:
    """Workers are the processes that used CPU under load (at least a fifth of the busiest)."""
    used = {pid: s.cpu_ticks - before[pid].cpu_ticks for pid, s in after.items() if pid in before}
    most = max(used.values(), default=0)
    busy = [pid for pid, ticks in used.items() if most and ticks >= most / 5]
    return Memory(
        worker_rss_mb=max((after[pid].rss_mb for pid in busy), default=0.0),
        total_pss_mb=sum(s.pss_mb for s in after.values()),
        busy=len(busy),
        cpu_s=sum(used.values()) / os.sysconf("SC_CLK_TCK"),
    )
