"""The page's controls for real: kill asks twice before force and says where the work goes, auto-yes,
browser notifications when a session ends, and the runs list and run view."""

from __future__ import annotations

import sys

from playwright.sync_api import expect

from tests.helpers import git, trails, wait_until
from tests.web.page.conftest import ROOT, Dashboard

# Records what the page would show as browser notifications (the permission granted).
NOTIFICATIONS = """
window.__notifications = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.__notifications.push([title, (options || {}).body || ""]); }
  close() {}
};
"""


def test_kill_confirms_then_confirms_force_naming_where_work_is_saved(dashboard: Dashboard) -> None:
    dashboard.new_session("doomed")
    (dashboard.worktree("doomed") / "unsaved.txt").write_text("work in progress\n")
    page = dashboard.page(at="/?session=doomed")
    expect(page.locator("#session-status")).to_have_text("ready")

    page.click('.controls [data-act="kill"]')
    first = page.locator("#kill-dialog")
    expect(first).to_contain_text("Kill doomed?")
    first.locator('button[value="no"]').click()  # cancelled: nothing happens
    expect(first).to_have_count(0)
    assert [s["name"] for s in trails("ls", "--json", cwd=dashboard.repo).json["sessions"]] == ["doomed"]

    page.click('.controls [data-act="kill"]')
    page.locator('#kill-dialog button[value="yes"]').click()
    force = page.locator("#force-dialog")  # the worktree holds uncommitted work: asked again
    expect(force).to_contain_text("uncommitted work")
    expect(force).to_contain_text("refs/trails/saved/doomed/")
    expect(force).to_contain_text(str(dashboard.repo))
    force.locator('button[value="yes"]').click()
    expect(page).to_have_url(f"{dashboard.base}/")
    expect(page.locator('.card[data-session="doomed"]')).to_have_count(0)
    assert trails("ls", "--json", cwd=dashboard.repo).json["sessions"] == []
    refs = git(dashboard.repo, "for-each-ref", "--format=%(refname)", "refs/trails/saved/doomed/").split()
    assert len(refs) == 1, refs
    assert git(dashboard.repo, "show", f"{refs[0]}:unsaved.txt") == "work in progress"


def test_auto_yes_toggle_and_a_notification_when_a_session_ends(dashboard: Dashboard) -> None:
    dashboard.new_session("notify")
    page = dashboard.page(at="/?session=notify")
    page.add_init_script(NOTIFICATIONS)
    page.reload()
    expect(page.locator("#session-status")).to_have_text("ready")
    page.check('.controls [data-act="auto-yes"]')
    wait_until(lambda: trails("ls", "--json", cwd=dashboard.repo).json["sessions"][0]["auto_yes"],
               message="auto-yes on")
    page.click(".back")
    expect(page.locator('.card[data-session="notify"] .auto-yes')).to_have_text("auto-yes")

    assert trails("send", "notify", "exit", cwd=dashboard.repo).code == 0  # the agent exits 0: completed
    expect(page.locator('.card[data-session="notify"]')).to_have_attribute("data-status", "completed")
    wait_until(lambda: "notify completed" in [title for title, _ in page.evaluate("window.__notifications")],
               message="the notification that notify completed")


def test_runs_list_and_run_view(dashboard: Dashboard) -> None:
    wd = dashboard.tmp / "wd"
    wd.mkdir()
    (wd / "README.md").write_text("hello\n")
    agent = f"{sys.executable} {ROOT / 'tests' / 'runs' / 'fake_agent.py'}"
    run_file = dashboard.tmp / "run.yaml"
    run_file.write_text(f"agent: {agent}\nwork_dir: {wd}\nsessions:\n"
                        "  - session_index: 1\n    prompt: write notes.txt first note\n"
                        "  - session_index: 2\n    prompt: write second.txt two\n")
    res = trails("run", str(run_file), "--out", str(dashboard.repo / "runs" / "first"), cwd=dashboard.repo)
    assert res.code == 0, res.stderr

    page = dashboard.page(at="/?view=runs")
    row = page.locator('tr[data-run="first"]')
    expect(row).to_contain_text("completed")
    expect(row).to_contain_text("2/2")
    row.locator("a").click()
    expect(page).to_have_url(f"{dashboard.base}/?view=runs&run=first")
    tree = page.locator(".run-tree")
    expect(tree.locator('li[data-label="session_01"]')).to_contain_text("ok")
    tree.locator('li[data-label="session_02"] > a').click()
    pane = page.locator(".run-session")
    expect(pane.locator('.diff-file[data-path="second.txt"]')).to_contain_text("two")
    expect(pane.locator(".diff-file")).to_have_count(1)  # against its own start: not session_01's notes.txt
    expect(pane).to_contain_text("Transcript")

    page.reload()  # the run view is in the URL
    expect(page.locator('.run-tree li[data-label="session_01"]')).to_be_visible()
    page.click(".back")
    expect(page.locator('tr[data-run="first"]')).to_be_visible()


def test_merge_lists_conflicts_and_forces_nothing_then_merges(dashboard: Dashboard) -> None:
    dashboard.new_session("feature")
    wt = dashboard.worktree("feature")
    (wt / "README.md").write_text("hello from the branch\n")
    git(wt, "commit", "-qam", "the branch's README")
    (dashboard.repo / "README.md").write_text("hello from main\n")
    git(dashboard.repo, "commit", "-qam", "main's README")
    before = git(dashboard.repo, "rev-parse", "HEAD")
    page = dashboard.page(at="/?session=feature")

    page.click('.controls [data-act="merge"]')
    page.locator('#merge-dialog button[value="yes"]').click()
    conflicts = page.locator("#conflicts-dialog")
    expect(conflicts).to_contain_text("README.md")
    expect(conflicts).to_contain_text("Nothing was changed")
    conflicts.locator('button[value="yes"]').click()
    assert git(dashboard.repo, "rev-parse", "HEAD") == before
    assert git(dashboard.repo, "status", "--porcelain") == ""

    git(dashboard.repo, "reset", "-q", "--hard", "HEAD~1")  # main without its own change: no conflict
    page.click('.controls [data-act="merge"]')
    page.fill('#merge-dialog input[name="message"]', "Merge the feature from the web page")
    page.locator('#merge-dialog button[value="yes"]').click()
    expect(page.locator(".toast-ok", has_text="merged trails/feature")).to_be_visible()
    assert git(dashboard.repo, "log", "-1", "--format=%s") == "Merge the feature from the web page"
    assert (dashboard.repo / "README.md").read_text() == "hello from the branch\n"
