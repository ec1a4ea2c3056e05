"""Scripted multi-session runs: a YAML file drives agent sessions over one work directory.

The engine exposes this through `Engine.run`; front ends never call the executor directly.
The executor and the run-file parser are imported on first use: a Ray worker imports this
package for the task it runs (`trails.runs.ray_backend`), and should not pay for them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.core.errors import RunError

if TYPE_CHECKING:
    from trails.runs.executor import EventSink, RunEvent
    from trails.runs.plan import RunPlan, load_plan

__all__ = ["RunEvent", "RunPlan", "load_plan", "start_run"]


def __getattr__(name: str) -> Any:
    if name == "RunEvent":
        from trails.runs.executor import RunEvent

        return RunEvent
    if name in ("RunPlan", "load_plan"):
        from trails.runs import plan

        return getattr(plan, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def start_run(run_file: Path | None, *, out: Path | None = None, parallel: int = 1, dry_run: bool = False,
              resume_run: Path | None = None, on_event: EventSink | None = None,
              ray_address: str | None = None) -> dict[str, Any]:
    """Validate a run file and run it (or only plan it), or continue the run stored in `resume_run`.

    `ray_address` (or `ray:` in the run file) runs the sessions as tasks on that Ray cluster; a resumed
    run goes on on the cluster it ran on unless `ray_address` names another (or `local`).
    """
    from trails.runs.executor import RunExecutor, default_out
    from trails.runs.plan import load_plan
    if resume_run is not None:
        plan, state = _stored_run(resume_run)
        if dry_run:
            return {"dry_run": True, "plan": plan.to_dict(), "out": str(resume_run.resolve())}
        backend = str(state.get("backend") or "")
        if ray_address is None and backend.startswith("ray:"):
            ray_address = backend[len("ray:"):]  # on the cluster it ran on, unless told otherwise
        return RunExecutor(plan, resume_run, parallel=parallel, on_event=on_event,
                           ray_address=ray_address).execute(resume=True)
    if run_file is None:
        raise RunError("give a run file, or --resume-run DIR to continue a stored run")
    plan = load_plan(run_file)
    target = out or default_out(plan)
    if dry_run:
        return {"dry_run": True, "plan": plan.to_dict(), "out": str(target.resolve())}
    return RunExecutor(plan, target, parallel=parallel, on_event=on_event, ray_address=ray_address).execute()


def _stored_run(run_dir: Path) -> tuple[RunPlan, dict[str, Any]]:
    from trails.runs.plan import load_plan

    state_path = run_dir / "run.json"
    config_path = run_dir / "config.yaml"
    if not state_path.exists() or not config_path.exists():
        raise RunError(f"{run_dir} is not a run directory (no run.json or config.yaml)")
    state = json.loads(state_path.read_text())
    # The run file as it was used, with relative paths taken from where the original lived.
    return load_plan(config_path, text=config_path.read_text(), base_dir=Path(state["base_dir"])), state
