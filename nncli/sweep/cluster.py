"""Trials on a Dask distributed cluster (``--cluster ADDRESS``), with no shared filesystem.

A worker trains in a scratch directory and sends the run's files back; this process writes
them into its own runs/ atomically. A trial to resume travels with its files; a data file or
an ``init_from`` run is scattered to the workers once. While a trial trains, its worker
publishes its latest checkpoint in the scheduler's metadata every few seconds, and this process writes
it into the trial's directory: if the sweep is killed, a rerun resumes from there, and if a
worker dies, Dask's retry of the task starts from there. Ctrl-C sets a stop flag there too,
which every trial watches; a worker whose sweep is gone (no heartbeat) stops its trial.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path

from nncli import runs
from nncli.config import dump_config, load_config
from nncli.errors import RunError, UsageError

_SYNC_SECONDS = 2.0
_ORPHAN_SECONDS = 30.0
_RUN_FILES = (runs.CONFIG_FILE, runs.SUMMARY_FILE, runs.METRICS_FILE, runs.CHECKPOINT_FILE,
              runs.CHECKPOINT_PREV_FILE, runs.MODEL_FILE)
_STATE_FILES = (runs.CHECKPOINT_PREV_FILE, runs.CHECKPOINT_FILE, runs.METRICS_FILE, runs.CONFIG_FILE)


def _distributed():
    try:
        import distributed
    except ImportError:
        raise UsageError('--cluster needs Dask: pip install "nncli[dask]"') from None
    return distributed


class Cluster:
    local = False

    def __init__(self, address: str):
        distributed = _distributed()
        self.distributed, self.address = distributed, address
        try:
            self.client = distributed.Client(address, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise RunError(f"--cluster {address}: cannot reach the Dask scheduler ({e})") from None
        self.session = secrets.token_hex(4)
        self.workers = len(self.client.nthreads())
        self.slots = max(1, sum(self.client.nthreads().values()))
        self.specs: dict[str, dict] = {}  # future key -> the spec as this process knows it
        self.synced: dict[str, float] = {}
        self.inputs: dict[str, object] = {}
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._heartbeat, daemon=True, name="nncli-dask-sync")
        self.thread.start()
        # every worker imports nncli now, while the sweep is planned, not in its first trial
        self.warming = [self.client.submit(_warm, workers=[w], allow_other_workers=False, pure=False,
                                           key=f"nncli-{self.session}-warm-{i}")
                        for i, w in enumerate(self.client.nthreads())]

    def describe(self) -> str:
        return f"{self.slots} at a time on {self.workers} Dask workers at {self.address}"

    # ------------------------------------------------------------ submitting
    def submit(self, spec: dict):
        run_dir = Path(spec["run_dir"])
        remote = dict(spec, session=self.session, files={}, paths={})
        if spec["mode"] == "resume":
            remote["files"] = {n: (run_dir / n).read_bytes() for n in _STATE_FILES + (runs.SUMMARY_FILE,)
                               if (run_dir / n).is_file()}
            cfg = load_config(run_dir / runs.CONFIG_FILE)
        else:
            cfg = load_config(f"{spec['trial']}.yaml", text=spec["config"])
        if cfg.data.path is not None:
            remote["paths"]["data.path"] = self._scatter(Path(cfg.data.path), cfg.data.path)
        if cfg.model.init_from is not None:
            source = runs.resolve_run(cfg.model.init_from, spec["runs_dir"])
            remote["paths"]["model.init_from"] = self._scatter(source, cfg.model.init_from)
        future = self.client.submit(run_remote, remote, pure=False,
                                    key=f"nncli-{self.session}-{spec['trial']}-{secrets.token_hex(3)}")
        self.specs[future.key] = spec
        return future

    def _scatter(self, path: Path, original: str) -> dict:
        """A file, or a run's config and model, sent to the workers once per sweep."""
        key = str(path.resolve())
        if key not in self.inputs:
            names = [runs.CONFIG_FILE, runs.MODEL_FILE] if path.is_dir() else [path.name]
            files = {n: (path / n if path.is_dir() else path).read_bytes() for n in names}
            digest = hashlib.sha256(json.dumps(sorted(files)).encode() + b"".join(files[n] for n in sorted(files))).hexdigest()
            self.inputs[key] = {"digest": digest, "dir": path.is_dir(), "original": original,
                                "files": self.client.scatter(files, broadcast=True, hash=False)}
        return self.inputs[key]

    # ------------------------------------------------------------ waiting and results
    def wait(self, futures, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            done = {f for f in futures if f.done()}
            if done or time.monotonic() >= deadline:
                return done
            time.sleep(0.02)

    def result(self, future) -> dict:
        with self.lock:
            spec = self.specs.pop(future.key)
            result = future.result()
            self._write_back(spec, result.pop("files", {}), final=True)
            self._forget(spec)
        if result.get("summary") is not None:
            result["summary"] = runs.read_summary(spec["run_dir"])
        return result

    def _write_back(self, spec: dict, files: dict, final: bool) -> None:
        """The worker's run files into this machine's trial directory: the state first, the
        summary (the status) last, paths put back to this machine's."""
        run_dir = Path(spec["run_dir"])
        for name in _RUN_FILES:
            if name not in files or name == runs.SUMMARY_FILE:
                continue
            data = files[name]
            if name == runs.CONFIG_FILE:
                data = self._local_config(spec, data.decode("utf-8")).encode("utf-8")
            runs.atomic_write_bytes(run_dir / name, data)
        if runs.SUMMARY_FILE in files:
            summary = json.loads(files[runs.SUMMARY_FILE])
            summary["dir"] = str(run_dir)
            cfg = load_config(run_dir / runs.CONFIG_FILE) if (run_dir / runs.CONFIG_FILE).exists() else None
            if cfg is not None and cfg.data.path is not None:
                summary["dataset"] = cfg.data.path
            if cfg is not None and summary.get("transfer"):
                summary["transfer"]["from"] = str(runs.resolve_run(cfg.model.init_from, spec["runs_dir"]))
            if not final and summary.get("status") != "running":
                return
            runs.write_summary(run_dir, summary)

    def _local_config(self, spec: dict, text: str) -> str:
        """The worker's config.yaml with this machine's data.path and init_from."""
        run_dir = Path(spec["run_dir"])
        if spec["mode"] == "new":
            mine = load_config(f"{spec['trial']}.yaml", text=spec["config"])
        else:
            mine = load_config(run_dir / runs.CONFIG_FILE)
        theirs = load_config(f"{spec['trial']}.yaml", text=text)
        data = theirs.data.model_copy(update={"path": mine.data.path})
        model = theirs.model.model_copy(update={"init_from": mine.model.init_from})
        return dump_config(theirs.model_copy(update={"data": data, "model": model}))

    def _forget(self, spec: dict) -> None:
        try:
            self.client.set_metadata(_key(self.session, spec["trial"]), None)
        except Exception:  # the scheduler is gone: nothing to free
            pass

    # ------------------------------------------------------------ the sweep's side of the heartbeat
    def _heartbeat(self) -> None:
        """Tell workers the sweep is alive, and bring each running trial's latest state home."""
        beat = 0
        while not self.closing.wait(_SYNC_SECONDS):
            beat += 1
            try:
                self.client.set_metadata(_key(self.session, "alive"), beat)
                self._sync()
            except Exception:  # the scheduler is gone or busy: the results path reports it
                pass

    def _sync(self) -> None:
        for key, spec in list(self.specs.items()):
            state = self.client.get_metadata(_key(self.session, spec["trial"]), None)
            if not state:
                continue
            with self.lock:
                if key in self.specs and state["time"] > self.synced.get(key, 0):
                    self.synced[key] = state["time"]
                    self._write_back(spec, state["files"], final=False)

    def stop(self, signame: str) -> None:
        self.client.set_metadata(_key(self.session, "stop"), signame)

    def close(self) -> None:
        self.closing.set()
        self.thread.join(timeout=5)
        self.client.close()


def _warm() -> None:
    from nncli import runner

    runner.preload()


def _key(session: str, name: str) -> list[str]:
    return ["nncli", session, name]


# ---------------------------------------------------------------- on the worker
class RemoteStop:
    """The trial's stop flag on a Dask worker: set when the sweep asks, or when the sweep's
    heartbeat stops. Its thread also publishes the trial's latest state."""

    def __init__(self, session: str, trial: str, run_dir: Path):
        import distributed

        self.local = None
        self.client = distributed.get_client()
        self.session, self.trial = session, trial
        self.run_dir, self.done = run_dir, threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True, name="nncli-trial-watch")
        self.thread.start()

    @property
    def signame(self):
        return self.local

    @signame.setter
    def signame(self, name):
        self.local = name

    def _watch(self) -> None:
        last_beat, seen, published = None, time.monotonic(), 0.0
        while not self.done.wait(_SYNC_SECONDS / 2):
            try:
                asked = self.client.get_metadata(_key(self.session, "stop"), None)
                if asked:
                    self.local = self.local or asked
                beat = self.client.get_metadata(_key(self.session, "alive"), None)
                if beat != last_beat:
                    last_beat, seen = beat, time.monotonic()
                elif time.monotonic() - seen > _ORPHAN_SECONDS:
                    self.local = self.local or "sigterm"
                published = self._publish(published)
            except Exception:  # a scheduler hiccup: try again at the next tick
                continue

    def _publish(self, since: float) -> float:
        ckpt = self.run_dir / runs.CHECKPOINT_FILE
        if not ckpt.exists() or ckpt.stat().st_mtime <= since:
            return since
        mtime = ckpt.stat().st_mtime
        files = {n: (self.run_dir / n).read_bytes() for n in _STATE_FILES + (runs.SUMMARY_FILE,)
                 if (self.run_dir / n).is_file()}
        self.client.set_metadata(_key(self.session, self.trial), {"time": time.time(), "files": files})
        return mtime

    def close(self) -> None:
        self.done.set()
        self.thread.join(timeout=5)


def run_remote(spec: dict) -> dict:
    """The task a Dask worker runs: the trial in a scratch directory, its files sent back."""
    import distributed

    from nncli.sweep import worker

    scratch = Path(tempfile.mkdtemp(prefix="nncli-trial-"))
    stop = None
    try:
        run_dir = scratch / Path(spec["run_dir"]).name
        run_dir.mkdir()
        files = dict(spec["files"])
        # a retry after a worker died: start from the state the dead worker last published
        latest = distributed.get_client().get_metadata(_key(spec["session"], spec["trial"]), None)
        if latest:
            files, spec = latest["files"], dict(spec, mode="resume")
        for name, data in files.items():
            (run_dir / name).write_bytes(data)
        sets = [f"{key}={json.dumps(str(_materialize(item)))}" for key, item in spec["paths"].items()]
        local = dict(spec, run_dir=str(run_dir), runs_dir=str(scratch))
        if spec["mode"] == "new":
            local["config"] = dump_config(load_config(f"{spec['trial']}.yaml", sets, text=spec["config"]))
        elif sets:
            path = run_dir / runs.CONFIG_FILE
            path.write_text(dump_config(load_config(path, sets)))
        stop = RemoteStop(spec["session"], spec["trial"], run_dir)
        result = worker.run_trial(local, stop=stop)
        result["files"] = {n: (run_dir / n).read_bytes() for n in _RUN_FILES if (run_dir / n).is_file()}
        return result
    finally:
        if stop is not None:
            stop.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _materialize(item: dict) -> Path:
    """A scattered input as a file (or run directory) in this worker's temporary directory."""
    home = Path(tempfile.gettempdir()) / "nncli-inputs" / item["digest"]
    target = home if item["dir"] else home / next(iter(item["files"]))
    if not (home / ".complete").exists():
        home.mkdir(parents=True, exist_ok=True)
        for name, data in item["files"].items():
            runs.atomic_write_bytes(home / name, data)
        (home / ".complete").touch()
    return target
