"""Moving sessions between isolation modes: upgrade-session, export-session."""

from __future__ import annotations

from trails.api import types as t
from trails.ui.cli.common import echo, emit, json_option, note, print_progress, session_call
from trails.ui.cli.framework import argument, command, flag, option, positive_int


def _report(as_json: bool, result: t.MoveResult) -> None:
    def human() -> None:
        for line in result.notes:
            note(f"note: {line}")
        s = result.session
        where = s.worktree_path or s.workdir
        echo(f"moved {s.name}: {result.from_mode.value} → {result.to_mode.value}, now in {where}"
             + (f" (container {s.container_id[:12]})" if s.container_id else ""))

    emit(as_json, result, human)


@command(help="Move a session to a more isolated mode (direct → worktree → container), keeping all its work.")
@argument("name")
@option("--to", dest="to", required=True, choices=["worktree", "container"], help="The mode to move to.")
@option("--image", help="Container: image to run (default: trails' own).")
@option("--network", choices=["none", "bridge", "host"], help="Container: network (default none).")
@option("--cpus", type=float, help="Container: CPU limit.")
@option("--memory", help="Container: memory limit, e.g. 2g.")
@option("--pids-limit", type=positive_int, help="Container: process limit.")
@option("--branch", help="direct → worktree: branch name (default: <branch_prefix><name>).")
@flag("--force", help="Move a direct session that has no snapshot of the main checkout from its start.")
@json_option
def upgrade_session(name: str, to: str, image: str | None, network: str | None, cpus: float | None,
                    memory: str | None, pids_limit: int | None, branch: str | None, force: bool,
                    as_json: bool) -> None:
    def request(there: str) -> t.Upgrade:
        return t.Upgrade(name=there, to=to, image=image, network=network, cpus=cpus, memory=memory,
                         pids_limit=pids_limit, branch=branch, force=force)

    _report(as_json, session_call(name, request, progress=print_progress))


@command(help="Move a session to a less isolated mode (container → worktree); needs --force.")
@argument("name")
@option("--to", dest="to", required=True, choices=["worktree"], help="The mode to move to.")
@flag("--force", help="Accept losing the isolation of the current mode.")
@json_option
def export_session(name: str, to: str, force: bool, as_json: bool) -> None:
    _report(as_json, session_call(name, lambda n: t.Export(name=n, to=to, force=force), progress=print_progress))
