"""Session commands: new, ls, show, attach, send, diff, kill (output: live.py; merge, rebase, pr: lifecycle.py)."""

from __future__ import annotations

import time
from typing import Any

from trails.api import types as t
from trails.core.errors import InvalidInput
from trails.ui.cli.common import client, client_for, echo, emit, json_option, note, print_progress, session_call
from trails.ui.cli.framework import argument, command, flag, option, positive_int


def _parse_env(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--env {pair!r} is not KEY=VALUE", field="env")
        env[key] = value
    return env


@command(help="Create a session: NAME, and AGENT (a profile like claude, or any command line).")
@argument("name")
@argument("agent")
@option("--mode", help="direct | worktree | container (basic = direct).")
@option("--prompt", help="First prompt, delivered once the agent has started.")
@option("--branch", help="Branch for the worktree (default: <branch_prefix><name>).")
@option("--base", help="Commit the branch starts from (default: HEAD).")
@option("--scope", action="append", default=[], help="Path the session works on (matched by project_rules).")
@option("--env", dest="env_pairs", action="append", default=[], help="KEY=VALUE for the agent's environment.")
@flag("--carry-changes", help="Bring the main tree's uncommitted changes along.")
@flag("--auto-yes", help="Answer the agent's permission prompts (within guards).")
@flag("--coordinator", help="Let its agent create, prompt, wait for, merge, pause and kill worker sessions (MCP).")
@flag("--force", help="Create even while a rebase/merge/bisect is in progress.")
@option("--image", help="Container mode: image to run (a local tag; default: trails' own, built on first use).")
@option("--network", choices=["none", "bridge", "host"], help="Container mode: network (default none).")
@flag("--privileged", help="Container mode: a privileged container (weakens isolation).")
@option("--mount", dest="mounts", action="append", default=[],
        help="Container mode: HOST[:CONTAINER][:ro|rw] to mount (read-only unless :rw); repeatable.")
@option("--cpus", type=float, help="CPU limit, e.g. 1.5 (containers; cgroups on the host).")
@option("--memory", help="Memory limit, e.g. 2g (containers; cgroups or rlimits on the host).")
@option("--pids-limit", type=positive_int, help="Process limit (containers; cgroups on the host).")
@flag("--no-hooks", help="Do not run the post_create hook in the new worktree.")
@flag("--no-mcp", help="Do not give the agent trails' MCP server (messages, claims, artifacts).")
@option("--host", help="Create it on this remote host (`trails host add`), in its trails server.")
@option("--repo", help="With --host: the repository's checkout on the host (default: this checkout's "
                        "`trails host map`ping, else the remote home).")
@json_option
def new(name: str, agent: str, mode: str | None, prompt: str | None, branch: str | None, base: str | None,
        scope: list[str], env_pairs: list[str], carry_changes: bool, auto_yes: bool, coordinator: bool,
        force: bool, image: str | None, network: str | None, privileged: bool, mounts: list[str],
        cpus: float | None, memory: str | None, pids_limit: int | None, no_hooks: bool, no_mcp: bool,
        host: str | None, repo: str | None, as_json: bool) -> None:
    request = t.Create(
        name=name, agent=agent, mode=mode, prompt=prompt, branch=branch, base=base, scope=scope,
        env=_parse_env(env_pairs), carry_changes=carry_changes, force=force, auto_yes=auto_yes,
        image=image, network=network, privileged=privileged, mounts=mounts, cpus=cpus, memory=memory,
        pids_limit=pids_limit, no_hooks=no_hooks, no_mcp=no_mcp, coordinator=coordinator,
    )
    if host is not None:
        import os

        from trails.api.remote import RemoteClient, on_host
        from trails.core import hosts

        found = hosts.get(host)
        there = repo if repo is not None else hosts.remote_repo(found, os.path.realpath(os.getcwd()))
        result = on_host(RemoteClient(host, found, cwd=there or "").call(request, progress=print_progress), host)
    elif repo is not None:
        raise InvalidInput("--repo names a checkout on a host: it needs --host", field="repo")
    else:
        result = client().call(request, progress=print_progress)

    def human() -> None:
        for line in result.notes:
            note(f"note: {line}")
        s = result.session
        where = s.worktree_path or s.workdir
        echo(f"created {s.name} ({s.mode.value}{', coordinator' if s.coordinator else ''}) in {where}"
             + (f" on branch {s.branch}" if s.branch else ""))

    emit(as_json, result, human)


def _on(name: str) -> Any:
    return client_for(name)[0]


def _bare(name: str) -> str:
    return name.partition(":")[2] if ":" in name else name


def _age(ts: float) -> str:
    secs = max(0, int(time.time() - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def _record(value: object) -> dict[str, Any] | None:
    """A lifecycle record of a session's `extra` (a JSON object), or None."""
    return value if isinstance(value, dict) else None


@command(help="List sessions: this machine's, then every remote host's (a HOST column; unreachable ones said so).")
@flag("--all", dest="include_ended", help="Also show ended sessions and how they ended.")
@json_option
def ls(include_ended: bool, as_json: bool) -> None:
    import msgspec

    from trails.core.marks import marks, tree, tree_prefix

    listed = client().call(t.ListSessions(include_ended=include_ended, hosts=True))
    remote = listed.hosts if isinstance(listed.hosts, dict) else {}
    rows_of: list[tuple[str, int, t.SessionInfo]] = [
        ("local", depth, s) for depth, s in tree(listed.sessions, lambda s: s.name, lambda s: s.parent)]
    for host_name, found in remote.items():
        rows_of += [(host_name, depth, s) for depth, s in tree(found.sessions, lambda s: s.name, lambda s: s.parent)]

    def human() -> None:
        for host_name, found in remote.items():
            if not found.reachable and isinstance(found.error, t.ApiError):
                note(f"{host_name}: unreachable ({found.error.code}: {found.error.message})")
        if not rows_of:
            echo("no sessions" + ("" if include_ended else " (ls --all shows ended ones)"))
            return
        head = ("NAME", "AGENT", "MODE", "STATUS", "BRANCH", "AGE")
        rows = [(("HOST",) if remote else ()) + head]
        for host_name, depth, s in rows_of:
            lifecycle = marks(_record(s.extra.get("conflict")), _record(s.extra.get("pr")),
                              frozen=bool(s.extra.get("frozen")))
            away = ["unreachable"] if host_name in remote and not remote[host_name].reachable else []
            status = ", ".join([s.status.value, *lifecycle, *(["coordinator"] if s.coordinator else []),
                                *away])  # an unreachable host's: as it last said
            row = (tree_prefix(depth) + s.name, s.agent[:24], s.mode.value, status, s.branch or "-",
                   _age(s.created_at))
            rows.append(((host_name,) if remote else ()) + row)
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())

    emit(as_json, listed if remote else msgspec.structs.replace(listed, hosts=msgspec.UNSET), human)


@command(help="Show one session in detail.")
@argument("name")
@json_option
def show(name: str, as_json: bool) -> None:
    from trails.core.marks import detail_lines

    data = session_call(name, lambda n: t.Show(name=n))

    def human() -> None:
        s = data.session
        for key in ("name", "agent", "mode", "status", "status_reason", "status_source", "coordinator", "parent",
                    "workdir", "worktree_path",
                    "branch", "base_commit", "tmux_session", "conversation_id", "container_id"):
            value = getattr(s, key)
            if value:
                echo(f"{key + ':':17} {value}")
        echo(f"{'command:':17} {' '.join(s.command)}")
        for label, text in detail_lines(s.extra):
            echo(f"{label + ':':17} {text}")
        for cp in data.checkpoints:
            echo(f"{'saved:':17} {cp.ref} ({cp.commit[:12]}, {cp.kind})")
        limits = {k: v for k, v in s.limits.items() if k in ("cpus", "memory", "pids_limit")}
        if limits:
            echo(f"{'limits:':17} " + ", ".join(f"{k}={v}" for k, v in limits.items()))
        if isinstance(data.disk, t.DiskReport):
            echo(f"{'disk:':17} {data.disk.mb} MB in {data.disk.path}")
            if isinstance(data.disk.warning, str):
                note(f"warning: {data.disk.warning}")

    emit(as_json, data, human)


@command(help="Attach your terminal to the session (detach with C-b d).")
@argument("name")
@json_option
def attach(name: str, as_json: bool) -> None:
    import os
    import subprocess
    import sys

    argv = _on(name).call(t.AttachCommandRequest(name=_bare(name))).argv
    if ":" in name and not name.startswith("local:"):
        from trails.api.remote import attach_argv

        argv = attach_argv(name.partition(":")[0], argv)
    if not sys.stdin.isatty():
        raise InvalidInput("attach needs a terminal (stdin is not a TTY)")
    if not as_json:
        os.execvp(argv[0], argv)  # the terminal is tmux's now; its exit status is ours
    code = subprocess.call(argv)
    emit(as_json, t.AttachResult(session=name, exit_code=code), lambda: None)


@command(help="Type TEXT into the agent, then press Enter.")
@argument("name")
@argument("text")
@json_option
def send(name: str, text: str, as_json: bool) -> None:
    emit(as_json, session_call(name, lambda n: t.Send(name=n, text=text)), lambda: None)


@command(help="The session's changes against its base commit (untracked files included).")
@argument("name")
@flag("--stat", help="Summary per file instead of the patch.")
@json_option
def diff(name: str, stat: bool, as_json: bool) -> None:
    result = session_call(name, lambda n: t.Diff(name=n, stat=stat))
    emit(as_json, result, lambda: echo(result.diff, nl=False))


@command(help="End a session. Uncommitted work blocks it unless --force, which saves the work first.")
@argument("name")
@flag("--force", help="Save uncommitted work to refs/trails/saved/… then remove.")
@flag("--delete-branch", help="Also delete the session's branch (its tip is saved).")
@flag("--no-hooks", help="Do not run the pre_remove hook.")
@json_option
def kill(name: str, force: bool, delete_branch: bool, no_hooks: bool, as_json: bool) -> None:
    result = session_call(name, lambda n: t.Kill(name=n, force=force, delete_branch=delete_branch,
                                                 no_hooks=no_hooks))

    def human() -> None:
        echo(f"killed {name}")
        for line in result.notes:
            echo(f"  {line}")

    emit(as_json, result, human)
