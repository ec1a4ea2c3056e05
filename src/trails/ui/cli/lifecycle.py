"""From a session's branch to merged work: merge, rebase (and pr)."""

from __future__ import annotations

from trails.ui.cli.common import echo, emit, engine, json_option
from trails.ui.cli.framework import UsageError, argument, command, flag, option


@command(help="Merge the session's branch into the branch the main checkout is on (default strategy: the "
              "merge_strategy setting, else --no-ff); a conflict changes nothing.")
@argument("name")
@flag("--squash", help="One new commit on the base branch holding all of the session's changes.")
@flag("--rebase", help="Rebase the session's branch onto the base branch, then fast-forward to it.")
@flag("--no-ff", dest="no_ff", help="One merge commit (the default).")
@option("--message", "-m", help="The commit message (default: from the session: name, agent, prompt).")
@flag("--cleanup", help="After the merge, end the session and remove its worktree and branch "
                        "(the tip is kept under refs/trails/merged/NAME/…).")
@json_option
def merge(name: str, squash: bool, rebase: bool, no_ff: bool, message: str | None, cleanup: bool,
          as_json: bool) -> None:
    chosen = [s for s, on in (("squash", squash), ("rebase", rebase), ("no-ff", no_ff)) if on]
    if len(chosen) > 1:
        raise UsageError("trails merge: choose one of --squash, --rebase, --no-ff")
    result = engine().merge(name, strategy=chosen[0] if chosen else None, message=message, cleanup=cleanup)

    def human() -> None:
        if result.commit:
            echo(f"merged {result.branch} into {result.into} ({result.strategy}, {result.commit[:12]})")
        for line in result.notes:
            echo(f"  {line}")
        if result.cleaned_up:
            echo(f"ended {name}; its branch's tip is kept at {result.kept_ref}")

    emit(as_json, result.to_dict(), human)


@command(help="Rebase the session's branch onto REF (default: its base branch's tip) in its worktree; "
              "a conflict is aborted (nothing changes) and flagged on the session.")
@argument("name")
@option("--onto", help="The branch or commit to rebase onto.")
@flag("--to-agent", help="On conflict, ask the agent to rebase and resolve the files itself.")
@json_option
def rebase(name: str, onto: str | None, to_agent: bool, as_json: bool) -> None:
    result = engine().rebase(name, onto=onto, to_agent=to_agent)

    def human() -> None:
        if result.after != result.before:
            echo(f"rebased {result.branch} onto {result.onto} ({result.before[:12]} → {result.after[:12]})")
        for line in result.notes:
            echo(f"  {line}")

    emit(as_json, result.to_dict(), human)
