"""The driver of a cluster run (pktgen_nm.cluster): actors placed by node resource,
checked, started at one instant, sampled every interval, stopped together.  A node
that dies or stops answering ends the run on every other node; the final report
names it and what it had done."""
from __future__ import annotations

import time

from .cluster import RESOURCE, Plan, PlanError, interval_of

START_MARGIN = 2.0              # seconds from the start order to the common instant


def _ray():
    try:
        import ray
    except ImportError:
        raise PlanError("a cluster run needs Ray: pip install 'netmap-py[cluster]'") from None
    return ray


class ClusterRun:
    """start(), intervals() (a dict per report until the run ends), stop(), finish();
    as a context manager: started on entry, stopped and finished on exit.  After
    finish(): final (per entry and total), failed ({name: why}), skew (s)."""

    def __init__(self, plan: Plan, address: str | None = None):
        self.plan, self.address = plan, address
        self.actors: dict = {}
        self.failed: dict[str, str] = {}
        self.last: dict[str, dict] = {}
        self.final: dict | None = None
        self.skew = self.late = None
        self.roles = {e.name: e.role for e in plan.entries}

    # -- start ----------------------------------------------------------------------
    def start(self) -> ClusterRun:
        ray = _ray()
        if not ray.is_initialized():
            ray.init(address=self.address, logging_level="ERROR", log_to_driver=False,
                     configure_logging=False)
        have = ray.cluster_resources()
        for e in self.plan.entries:
            if RESOURCE + e.node not in have:
                raise PlanError(f"node {e.node}: not in the cluster (no node declares the "
                                f"resource {RESOURCE}{e.node}; see ray start in the README)")
        from .cluster_node import NodeWorker
        actor = ray.remote(num_cpus=0, max_concurrency=4, max_restarts=0)(NodeWorker)
        for e in self.plan.entries:
            self.actors[e.name] = actor.options(resources={RESOURCE + e.node: 1}).remote(e)
        try:
            self._check(ray)
            at = time.time() + START_MARGIN
            started = self._gather(ray, {n: a.start.remote(at) for n, a in self.actors.items()},
                                   60, "could not start")
        except BaseException:
            self.close()
            raise
        self.skew = max(started.values()) - min(started.values())
        self.late = max(started.values()) - at
        return self

    def _check(self, ray) -> None:
        """Every node checks its entry before anything starts: the first refusal,
        naming its node, ends the run here."""
        why = self._gather(ray, {n: a.check.remote() for n, a in self.actors.items()}, 60,
                           "could not check")
        for name, w in why.items():
            if w:
                raise PlanError(f"node {name.split('/')[0]}: {name.split('/', 1)[1]}: {w}")

    def _gather(self, ray, refs: dict, timeout: float, doing: str) -> dict:
        out = {}
        for name, ref in refs.items():
            try:
                out[name] = ray.get(ref, timeout=timeout)
            except Exception as e:          # a dead actor, a timeout, the entry's error
                raise PlanError(f"node {name.split('/')[0]}: {doing} {name.split('/', 1)[1]}: "
                                f"{_why(e)}") from None
        return out

    # -- while it runs --------------------------------------------------------------
    def intervals(self):
        """Yield a report every plan.interval seconds until every entry is done, or
        a node fails (then failed says which)."""
        ray, step = _ray(), self.plan.interval
        prev, t0 = {}, time.monotonic()
        while True:
            time.sleep(max(0.0, step - (time.monotonic() - t0)))
            samples = self._sample(ray, timeout=max(5.0, 3 * step))
            t1 = time.monotonic()
            yield interval_of(samples, prev, t1 - t0, self.roles)
            prev, t0 = samples, t1
            if self.failed or not any(s["alive"] for s in samples.values()):
                return

    def _sample(self, ray, timeout: float) -> dict:
        refs = {n: a.sample.remote() for n, a in self.actors.items() if n not in self.failed}
        out = {}
        for name, ref in refs.items():
            try:
                out[name] = ray.get(ref, timeout=timeout)
                self.last[name] = out[name]
            except Exception as e:
                self.failed[name] = _why(e)
        return out

    def stop(self) -> None:
        for name, a in self.actors.items():
            if name not in self.failed:
                a.stop.remote()

    def finish(self) -> dict:
        """Stop what still runs, wait for every live entry's result: final."""
        ray = _ray()
        self.stop()
        results = {}
        for name, a in self.actors.items():
            if name in self.failed:
                continue
            try:
                results[name] = ray.get(a.finish.remote(), timeout=60)
            except Exception as e:
                self.failed[name] = _why(e)
        total = {role: {k: sum(r[k] for n, r in results.items() if self.roles[n] == role)
                        for k in ("pkts", "bytes")} for role in ("sent", "received")}
        self.final = {"entries": results, "total": total, "failed": {
            n: {"why": w, "last": self.last.get(n)} for n, w in self.failed.items()},
            "skew_s": self.skew, "late_s": self.late}
        self.close()
        return self.final

    def close(self) -> None:
        """Let go of every actor (their processes end, and with them ports and XDP
        programs)."""
        ray = _ray()
        for a in self.actors.values():
            try:
                ray.kill(a)
            except Exception:       # already dead
                pass
        self.actors = {}

    def __enter__(self) -> ClusterRun:
        return self.start()

    def __exit__(self, *exc) -> None:
        if self.actors:
            self.finish()


def _why(e: BaseException) -> str:
    """One line for what a Ray call raised: the entry's own error where there is one."""
    cause = getattr(e, "cause", None)
    if cause is not None and not isinstance(cause, type(e)):
        return _why(cause)
    name = type(e).__name__
    if "Actor" in name:             # ActorDiedError, ActorUnavailableError, RayActorError
        return "the node's worker died or cannot be reached (killed, or the node went away)"
    if "GetTimeout" in name:
        return "no answer (the node is gone or hung)"
    text = str(e).strip().splitlines()
    return text[-1] if text else name
