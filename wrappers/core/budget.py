"""How many gunicorn workers, threads and framework threads a server gets on this machine."""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def cpu_count(cgroup: Path = CGROUP) -> int:
    """The cores this process may use: its CPU affinity, capped by its cgroup's CPU limit
    rounded up. In a pod limited to 1 CPU the affinity still names every core of the node, and
    a framework sized from it would run that many threads in one core's quota."""
    cores = len(os.sched_getaffinity(0))
    limit = cgroup_cpu_limit(cgroup)
    return cores if limit is None else max(1, min(cores, math.ceil(limit)))


def cgroup_cpu_limit(cgroup: Path = CGROUP) -> float | None:
    """CPUs of quota per period (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), or None."""
    try:
        if (cgroup / "cpu.max").exists():
            quota, period = (cgroup / "cpu.max").read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        quota = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 else None


@dataclass(frozen=True)
class Budget:
    workers: int
    threads: int
    intra_op_threads: int

    @classmethod
    def for_machine(
        cls, cpus: int | None = None, workers: int | None = None, threads: int | None = None
    ) -> Budget:
        """One worker per core unless told otherwise; framework threads split the cores."""
        cpus = cpus or cpu_count()
        workers = workers or int(os.environ.get("GUNICORN_WORKERS", cpus))
        threads = threads or int(os.environ.get("GUNICORN_THREADS", 1))
        return cls(workers=workers, threads=threads, intra_op_threads=max(1, cpus // workers))

    def limit_native_threads(self) -> None:
        """Caps this worker's OpenMP and BLAS pools at its share of the cores.

        The variables only reach libraries that load later; threadpoolctl (installed with
        scikit-learn) also resizes the pools already loaded. OpenMP's wait policy is left to the
        library (libgomp spins briefly between parallel regions, then sleeps): the shares never
        add up to more than the cores, and passive waiting made a torch CNN's call 32 ms
        instead of 22. A deployment whose cores are shared can set ``OMP_WAIT_POLICY=PASSIVE``.
        """
        for name, value in self.environment().items():
            if name.endswith("_NUM_THREADS"):
                os.environ.setdefault(name, value)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return
        threadpool_limits(self.intra_op_threads)

    def environment(self) -> dict[str, str]:
        """Environment for ``seldon-core-microservice`` so workers don't oversubscribe cores."""
        intra = str(self.intra_op_threads)
        return {
            "GUNICORN_WORKERS": str(self.workers),
            "GUNICORN_THREADS": str(self.threads),
            "OMP_NUM_THREADS": intra,
            "MKL_NUM_THREADS": intra,
            "OPENBLAS_NUM_THREADS": intra,
        }


def shell_exports(environ: Mapping[str, str] | None = None) -> str:
    """``export`` lines for the budget's variables that ``environ`` does not set already."""
    environ = os.environ if environ is None else environ
    budget = Budget.for_machine()
    return "".join(
        f"export {name}={shlex.quote(value)}\n"
        for name, value in budget.environment().items()
        if name not in environ
    )


if __name__ == "__main__":  # `eval "$(python -m wrappers.core.budget)"` in s2i/bin/run
    print(shell_exports(), end="")
