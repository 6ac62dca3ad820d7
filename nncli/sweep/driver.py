"""The sweep's loop: decide what each trial needs, hand it to the executor, record what came
back in the manifest, and let the strategy choose what runs next.

Only this process writes the manifest, after every change, atomically; each trial's run
directory tells its own truth (its summary.json), which is what a resumed sweep trusts. A
trial needs nothing when it is finished (at the epochs its rung asks for) or diverged; a
killed or crashed trial resumes from its checkpoint, or starts again when it has none.
"""

from __future__ import annotations

from pathlib import Path

from nncli import runs
from nncli.config import dump_config, load_config
from nncli.errors import NncliError
from nncli.sweep import manifest, plan as plans, strategies


class Sweep:
    def __init__(self, plan: plans.Plan, sweep_dir: Path, executor, stop, runs_dir, emit=None):
        self.plan, self.dir, self.ex, self.stop = plan, Path(sweep_dir).absolute(), executor, stop
        self.runs_dir = Path(runs_dir).absolute()
        self.emit = emit or (lambda event: None)
        self.inflight: dict = {}
        self.relayed = False
        self.bugs: list[tuple[dict, str]] = []

    # ------------------------------------------------------------ the strategies
    def run(self) -> None:
        self._reconcile()
        try:
            name = self.plan.strategy["name"]
            if name == "halving":
                self._halving()
            elif name == "tpe":
                self._tpe()
            else:
                self._run_all(self.plan.trials)
            self._drain()
        except BaseException:
            # stop what still runs so that every trial's status is true, then let the error out
            self.stop.signame = self.stop.signame or "sigterm"
            try:
                self._drain()
            except Exception:
                pass
            raise
        finally:
            self.update_best()
            self.save()

    def _run_all(self, trials: list[dict]) -> None:
        """Every trial that needs something, as many at once as the executor has slots; a
        trial whose worker died is given one more go."""
        for attempt in range(2):
            todo = [(t, a) for t in trials if (not attempt or t.get("reason") == "worker died")
                    and (a := self.action(t)) is not None]
            if attempt and not todo:
                return
            for trial, (mode, overrides) in todo:
                while len(self.inflight) >= self.ex.slots:
                    self._wait()
                if self.stopped:
                    return
                self._start(trial, mode, overrides)
            while self.inflight:
                self._wait()
            if self.stopped:
                return

    def _halving(self) -> None:
        rungs = self.plan.strategy["rungs"]
        members = list(self.plan.trials)
        for k, rung in enumerate(rungs):
            for t in members:
                if (t.get("rung") or 0) <= k:
                    t["rung"], t["epochs"] = k, rung["epochs"]
            self._run_all(members)
            if self.stopped:
                return
            for t in members:  # a trial that stopped early is complete: its score stands at every rung
                if t["status"] == "finished":
                    t.setdefault("scores", {}).setdefault(str(k), t["score"])
            if k + 1 == len(rungs):
                return
            rank = self.plan.metric.rank_key
            members = sorted(members, key=lambda t: rank((t.get("scores") or {}).get(str(k))))[:rungs[k + 1]["keep"]]

    def _tpe(self) -> None:
        plan = self.plan
        tpe = strategies.TPE(plan.space, plan.strategy["seed"], plan.metric.higher_is_better(),
                             parallel=self.ex.slots > 1)
        todo = []
        for t in plan.trials:
            action = self.action(t)
            if action is None:
                tpe.add(t["params"], t["score"])
            else:
                todo.append((t, action))
        while not self.stopped:
            while len(self.inflight) < self.ex.slots and not self.stopped:
                if todo:
                    self._start(todo[0][0], *todo.pop(0)[1])
                elif len(plan.trials) < plan.strategy["trials"]:
                    index = len(plan.trials)
                    params = tpe.ask(f"t{index}")
                    trial = plans.new_trial(plan, index, params)
                    tpe.open[trial["id"]] = tpe.open.pop(f"t{index}")
                    plan.trials.append(trial)
                    try:
                        plans.check_trial(plan, trial, self.runs_dir, set())
                    except NncliError as e:
                        self._record(trial, {"status": "failed", "reason": f"error: {e}", "summary": None,
                                             "error": None, "exit_code": e.exit_code})
                        tpe.tell(trial["id"], None)
                        continue
                    self._start(trial, "new", [])
                else:
                    break
            if not self.inflight:
                return
            for trial in self._wait():
                if trial["id"] in tpe.open:
                    tpe.tell(trial["id"], trial["score"] if trial["status"] == "finished" else None)
                elif trial["status"] in ("finished", "failed"):
                    tpe.add(trial["params"], trial["score"])

    def _reconcile(self) -> None:
        """Trust each run over the manifest: a sweep killed with -9 could not record how the
        trials it left running ended (its workers finished or stopped them)."""
        changed = False
        for t in self.plan.trials:
            if t["status"] != "running":
                continue
            run_dir = self.dir / t["run_dir"]
            if _summary(run_dir) and _summary(run_dir).get("status") == "running":
                with manifest.trial_lock(run_dir, wait=120):  # its worker may still be stopping it
                    pass
            summary = _summary(run_dir)
            result = _from_disk(run_dir, None) if summary else {"status": "pending", "reason": None, "summary": None}
            self._update(t, result)
            changed = True
        if changed:
            self.save()

    # ------------------------------------------------------------ one trial
    def action(self, trial: dict):
        """What the trial needs: None, ("new", []) or ("resume", [training.epochs=N])."""
        run_dir = self.dir / trial["run_dir"]
        summary = _summary(run_dir)
        if summary is None:
            return ("new", [])
        if summary.get("status") == "running":  # a dying sweep's worker may still be stopping it
            with manifest.trial_lock(run_dir, wait=120):
                summary = _summary(run_dir) or {}
        status, reason = summary.get("status"), summary.get("reason") or ""
        epochs = trial["epochs"]
        if status == "finished":
            if (summary.get("epochs_run") or 0) < epochs and not reason.startswith("early stopping"):
                return ("resume", [f"training.epochs={epochs}"])
            return None
        if status == "failed" and reason == "non_finite_loss":
            return None
        has_checkpoint = any((run_dir / f).exists() for f in (runs.CHECKPOINT_FILE, runs.CHECKPOINT_PREV_FILE))
        return ("resume", [f"training.epochs={epochs}"]) if has_checkpoint else ("new", [])

    def _start(self, trial: dict, mode: str, overrides: list[str]) -> None:
        run_dir = self.dir / trial["run_dir"]
        try:
            run_dir.mkdir(exist_ok=True)
        except OSError as e:
            from nncli.errors import RunError

            raise RunError(f"cannot create the trial directory {run_dir}: {e.strerror or e}") from e
        spec = {"trial": trial["id"], "run_dir": str(run_dir), "runs_dir": str(self.runs_dir), "mode": mode,
                "overrides": overrides, "command": self.plan.command}
        if mode == "new":
            spec["config"] = dump_config(plans.trial_config(self.plan, trial, trial["epochs"]))
        trial.update(status="running", reason=None)
        if getattr(self.ex, "synchronous", False):  # the trial runs inside submit: record it first
            self.save()
            self.inflight[self.ex.submit(spec)] = trial
            return
        self.inflight[self.ex.submit(spec)] = trial  # first: a worker need not wait for the manifest
        self.save()

    def _wait(self) -> list[dict]:
        """Wait for at least one trial to end (passing a stop request on); returns them."""
        while True:
            if self.stop.signame and not self.relayed:
                self.ex.stop(self.stop.signame)
                self.relayed = True
            done = self.ex.wait(list(self.inflight), 0.2)
            if done:
                break
        ended = []
        for future in done:
            trial = self.inflight.pop(future)
            try:
                result = self.ex.result(future)
            except Exception as e:  # the worker died (kill -9, out of memory): the run's files say where it got to
                result = _from_disk(self.dir / trial["run_dir"], e)
            self._record(trial, result)
            ended.append(trial)
        return ended

    def _record(self, trial: dict, result: dict) -> None:
        summary = self._update(trial, result)
        if result.get("exit_code") == 1 and result.get("error"):
            self.bugs.append((trial, result["error"]))
        self.update_best()
        self.save()
        self.emit(self.event(trial, summary))

    def _update(self, trial: dict, result: dict) -> dict | None:
        summary = result.get("summary")
        trial["status"], trial["reason"] = result["status"], result.get("reason")
        if summary:
            trial["epochs_run"] = summary.get("epochs_run") or 0
            trial["wall_time"] = summary.get("wall_time")
            trial["score"] = self.plan.metric.of(summary) if trial["status"] == "finished" else None
            trial["metric"] = self.plan.metric.resolved(summary)
            if trial["status"] == "finished" and trial.get("rung") is not None:
                trial.setdefault("scores", {})[str(trial["rung"])] = trial["score"]
        return summary

    def event(self, trial: dict, summary: dict | None) -> dict:
        metric = self.plan.metric.resolved(summary or {"task": None}) if summary else self.plan.metric.name
        out = {"event": "trial", "sweep": self.plan.name, "trial": trial["id"], "label": trial["label"],
               "params": trial["params"], "status": trial["status"], "reason": trial["reason"],
               "metric": metric, "score": trial.get("score"), "epochs_run": trial.get("epochs_run"),
               "run_dir": str(self.dir / trial["run_dir"])}
        if trial.get("rung") is not None:
            out["rung"] = trial["rung"]
        if summary and summary.get("final"):
            out["final"] = summary["final"]
        return out

    def _drain(self) -> None:
        while self.inflight:
            self._wait()

    # ------------------------------------------------------------ results
    @property
    def stopped(self) -> bool:
        return self.stop.signame is not None

    def save(self) -> None:
        manifest.write(self.dir, self.plan.to_dict())

    def candidates(self) -> list[dict]:
        """Trials that count for the best: finished, and for halving trained to the last rung."""
        out = [t for t in self.plan.trials if t["status"] == "finished" and t.get("score") is not None]
        if self.plan.strategy["name"] == "halving":
            last = len(self.plan.strategy["rungs"]) - 1
            out = [t for t in out if t.get("rung") == last]
        return out

    def update_best(self) -> None:
        cands = self.candidates()
        best = min(cands, key=lambda t: self.plan.metric.rank_key(t["score"])) if cands else None
        self.plan.best = best["id"] if best else None

    def best_config(self) -> str | None:
        """The best trial's config as YAML ready to train (named after the base config); also
        written to best.yaml in the sweep directory."""
        trial = next((t for t in self.plan.trials if t["id"] == self.plan.best), None)
        if trial is None:
            return None
        cfg = load_config(self.dir / trial["run_dir"] / runs.CONFIG_FILE)
        text = f"# best trial {trial['id']} of sweep {self.plan.name}: {trial['label']}\n" + \
            dump_config(cfg.model_copy(update={"name": self.plan.base.name}))
        runs.atomic_write_text(self.dir / manifest.BEST_FILE, text)
        return text


def _summary(run_dir: Path) -> dict | None:
    try:
        return runs.read_summary(run_dir)
    except NncliError:
        return None


def _from_disk(run_dir: Path, error: BaseException | None) -> dict:
    """A trial's result read from its run, when its worker could not answer."""
    summary = _summary(run_dir)
    if summary is None:
        return {"status": "pending", "reason": None, "summary": None, "error": None, "exit_code": 0}
    status = summary.get("status")
    reason = summary.get("reason")
    if status == "running":
        status, reason = "killed", "worker died"
    return {"status": status, "reason": reason, "summary": summary, "error": None, "exit_code": 0}
