"""How many gunicorn workers, threads and framework threads a server gets on this machine."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


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
