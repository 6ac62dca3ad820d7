"""Where trials run: in the sweep's own process, or in a pool of worker processes.

Every executor takes trial specs (plain dicts) and gives back futures of ``run_trial``'s
result, so the driver does not know where a trial ran. ``stop(signame)`` asks every running
trial to stop after its current batch. The Dask executor is in ``cluster.py``.
"""

from __future__ import annotations

import concurrent.futures as cf
import os

from nncli.sweep import worker


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class Serial:
    """One trial at a time, in this process (``--jobs 1``): the sweep's stop flag is the trial's."""

    local = True
    synchronous = True  # submit runs the trial to its end

    def __init__(self, stop):
        self.stop_flag = stop
        self.slots = 1

    def submit(self, spec: dict) -> cf.Future:
        future: cf.Future = cf.Future()
        future.set_result(worker.run_trial(spec, stop=self.stop_flag))
        return future

    def wait(self, futures, timeout: float):
        return cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)[0]

    def result(self, future) -> dict:
        return future.result()

    def stop(self, signame: str) -> None:
        self.stop_flag.signame = self.stop_flag.signame or signame

    def close(self) -> None:
        pass


class Local:
    """``jobs`` worker processes on this machine.

    The processes fork from a server process that imported nncli, NumPy and scikit-learn once
    (multiprocessing's forkserver with a preload), so no trial pays for imports. Each worker
    gets ``cores // jobs`` BLAS threads (one when the workers fill the cores) through
    threadpoolctl, so the workers never oversubscribe the machine.
    """

    local = True

    def __init__(self, jobs: int):
        import multiprocessing

        self.ctx = multiprocessing.get_context("forkserver")
        self.ctx.set_forkserver_preload(["nncli.sweep.warm"])
        self.flag = self.ctx.Value("b", 0, lock=False)  # read after every batch: no lock needed
        self.slots = jobs
        self.blas = max(1, cores() // jobs)
        self.pool = self._pool()

    def _pool(self):
        return cf.ProcessPoolExecutor(self.slots, mp_context=self.ctx, initializer=worker.init_process,
                                      initargs=(self.flag, os.getpid(), self.blas))

    def warm(self) -> None:
        """Start the server and its imports now, while the sweep is still being planned."""
        from multiprocessing import forkserver

        forkserver.ensure_running()

    def submit(self, spec: dict) -> cf.Future:
        try:
            return self.pool.submit(worker.run_trial, spec)
        except cf.BrokenExecutor:  # a worker died (kill -9, out of memory): start a new pool
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = self._pool()
            return self.pool.submit(worker.run_trial, spec)

    def wait(self, futures, timeout: float):
        return cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)[0]

    def result(self, future) -> dict:
        return future.result()

    def stop(self, signame: str) -> None:
        if not self.flag.value:
            self.flag.value = 2 if signame == "sigterm" else 1

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
