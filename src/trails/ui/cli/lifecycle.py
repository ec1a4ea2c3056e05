"""From a session's branch to merged work: merge, rebase, pr."""

from __future__ import annotations

from typing import TypeVar

from msgspec import UnsetType

from trails.api import types as t
from trails.ui.cli.common import echo, emit, json_option, print_progress, session_call
from trails.ui.cli.framework import UsageError, argument, command, flag, option

V = TypeVar("V")


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
    result = session_call(name, lambda n: t.Merge(name=n, strategy=chosen[0] if chosen else None, message=message,
                                                  cleanup=cleanup), progress=print_progress)

    def human() -> None:
        if result.commit:
            echo(f"merged {result.branch} into {result.into} ({result.strategy}, {result.commit[:12]})")
        for line in result.notes:
            echo(f"  {line}")
        if result.cleaned_up:
            echo(f"ended {name}; its branch's tip is kept at {result.kept_ref}")

    emit(as_json, result, human)


@command(help="Rebase the session's branch onto REF (default: its base branch's tip) in its worktree; "
              "a conflict is aborted (nothing changes) and flagged on the session.")
@argument("name")
@option("--onto", help="The branch or commit to rebase onto.")
@flag("--to-agent", help="On conflict, ask the agent to rebase and resolve the files itself.")
@json_option
def rebase(name: str, onto: str | None, to_agent: bool, as_json: bool) -> None:
    result = session_call(name, lambda n: t.Rebase(name=n, onto=onto, to_agent=to_agent), progress=print_progress)

    def human() -> None:
        if result.after != result.before:
            echo(f"rebased {result.branch} onto {result.onto} ({result.before[:12]} → {result.after[:12]})")
        for line in result.notes:
            echo(f"  {line}")

    emit(as_json, result, human)


@command(help="Push the session's branch and open a pull request with gh (glab for GitLab); without either, "
              "print the remote's compare URL. --checks prints its state and checks.")
@argument("name")
@flag("--draft", help="Open it as a draft.")
@option("--title", help="Its title (default: the session's prompt).")
@option("--body", help="Its description (default: the prompt, the agent and the diff stat).")
@option("--base", help="The branch to merge into (default: the branch the session started from).")
@flag("--checks", help="Print the pull request's state, review and checks (asked for now).")
@flag("--fix", help="With failing checks, send the agent their names and log tails.")
@json_option
def pr(name: str, draft: bool, title: str | None, body: str | None, base: str | None, checks: bool, fix: bool,
       as_json: bool) -> None:
    if checks or fix:
        if draft or title is not None or body is not None or base is not None:
            raise UsageError("trails pr: --checks/--fix take no --draft, --title, --body or --base")
        data = session_call(name, lambda n: t.PrChecks(name=n, fix=fix), progress=print_progress)

        def show_checks() -> None:
            info = data.pr
            echo(f"#{_given(info.number)} {_given(info.url)}")
            review = _given(info.review)
            echo(f"state: {str(_given(info.state) or '?').lower()}, checks {_given(info.checks) or 'none'}"
                 + (f", review {review.lower()}" if review else ""))
            for check in _given(info.failing_detail) or []:
                echo(f"  failing: {check.name} {check.url or ''}".rstrip())
            if _given(info.error):
                echo(f"  (gh: {_given(info.error)})")
            if data.sent_to_agent:
                echo("sent the failing checks to the agent")
            elif _given(data.note):
                echo(str(data.note))

        emit(as_json, data, show_checks)
        return
    result = session_call(name, lambda n: t.OpenPr(name=n, draft=draft, title=title, body=body, base=base),
                          progress=print_progress)

    def human() -> None:
        if result.created:
            echo(f"opened #{result.number}: {result.url}")
        for line in result.notes:
            echo(line)

    emit(as_json, result, human)


def _given(value: V | UnsetType) -> V | None:
    """A field's value, or None where the server left it out."""
    return None if isinstance(value, UnsetType) else value
