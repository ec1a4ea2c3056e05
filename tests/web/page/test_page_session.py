"""One session's view in a real browser: the terminal (output shown, typing reaches the agent), the
diff with a review comment that arrives in the agent's pane, the files of its worktree, deep links,
the new-session form, and a read-only token that can watch but not act."""

from __future__ import annotations

import json
import os
import re
import subprocess
from urllib.parse import quote

from playwright.sync_api import expect

from tests.helpers import git, trails, wait_until
from tests.web.page.conftest import Dashboard

BEFORE = """import sys


def greet(name):
    return 'hello ' + name


def main():
    print(greet(sys.argv[1]))
"""
AFTER = """import sys


def greet(name, punctuation='!'):
    if not name:
        raise ValueError('greet needs a name')
    return f'hello {name}{punctuation}'


def main():
    for name in sys.argv[1:]:
        print(greet(name))
"""


def agent_screen(page):  # type: ignore[no-untyped-def]
    return page.locator('.terminal-pane[data-kind="agent"] .xterm-rows')


def pane_text(dashboard: Dashboard, name: str) -> str:
    return trails("output", name, cwd=dashboard.repo).stdout


def test_terminal_shows_the_agent_and_typing_reaches_it(dashboard: Dashboard) -> None:
    dashboard.new_session("term")
    page = dashboard.page(at="/?session=term")
    expect(page.locator("#session-status")).to_have_text("ready")
    screen = agent_screen(page)
    expect(screen).to_contain_text("echo-agent ready")  # the pane as it is, repainted on connect
    expect(page.locator('.terminal-pane[data-kind="agent"] .term-state')).to_have_attribute("data-state", "live")

    page.locator('.terminal-pane[data-kind="agent"] .xterm').click()
    page.keyboard.type("hello from the page")
    page.keyboard.press("Enter")
    dashboard.wait_received("term", "hello from the page\n")
    expect(screen).to_contain_text("got: hello from the page")  # the agent's echo, back through tmux
    wait_until(lambda: "got: hello from the page" in pane_text(dashboard, "term"), message="the echo in tmux's pane")

    # The send line types a message and presses Enter, like `trails send`.
    page.fill("#send-text", "sent with the send line")
    page.press("#send-text", "Enter")
    dashboard.wait_received("term", "sent with the send line\n")
    expect(screen).to_contain_text("got: sent with the send line")
    dashboard.shoot(page, "web-session.png")

    # A plain shell in the session's worktree, beside the agent.
    page.click('.term-switch [data-kind="shell"]')
    shell = page.locator('.terminal-pane[data-kind="shell"]')
    expect(shell.locator(".term-state")).to_have_attribute("data-state", "live")
    shell.locator(".xterm").click()
    page.keyboard.type("echo shell-in-$(basename $PWD)")
    page.keyboard.press("Enter")
    expect(shell.locator(".xterm-rows")).to_contain_text("shell-in-repo-wt-trails-term")
    page.click('.term-switch [data-kind="agent"]')
    expect(shell).to_be_hidden()

    # Phone width: the terminal fits the screen, and the pane follows (a resize frame to tmux).
    page.set_viewport_size({"width": 390, "height": 760})
    host = page.locator('.terminal-pane[data-kind="agent"] .xterm-screen')
    wait_until(lambda: (b := host.bounding_box()) is not None and b["width"] <= 390 and b, message="terminal fits")
    tmux_session = trails("show", "term", "--json", cwd=dashboard.repo).json["session"]["tmux_session"]
    width = wait_until(lambda: 0 < (w := _pane_width(tmux_session)) < 60 and w, message="the pane to narrow")
    assert width > 20


def _pane_width(tmux_session: str) -> int:
    cp = subprocess.run(["tmux", "-S", os.environ["TRAILS_TMUX_SOCKET"], "display-message", "-p", "-t",
                         f"={tmux_session}:", "#{pane_width}"], capture_output=True, text=True, check=False)
    return int(cp.stdout.strip() or 0)


def test_review_comment_arrives_in_the_agents_pane(dashboard: Dashboard) -> None:
    (dashboard.repo / "greet.py").write_text(BEFORE)
    git(dashboard.repo, "add", "greet.py")
    git(dashboard.repo, "commit", "-q", "-m", "greet")
    dashboard.new_session("review")
    (dashboard.worktree("review") / "greet.py").write_text(AFTER)
    page = dashboard.page(at="/?session=review&view=diff")
    expect(page.locator("#session-status")).to_have_text("ready")
    page.click('.layout-btn[data-layout="split"]')
    diff = page.locator('.diff-file[data-path="greet.py"]')
    expect(diff.locator(".diff-file-head")).to_contain_text("+6")
    expect(diff.locator(".diff-file-head")).to_contain_text("−3")
    expect(diff).to_contain_text("raise ValueError('greet needs a name')")
    expect(diff.locator(".hljs-keyword").first).to_be_visible()  # highlighted as Python

    diff.locator('tr[data-new="5"] td.ln-new').click()
    diff.locator('tr[data-new="6"] td.ln-new').click(modifiers=["Shift"])
    expect(diff.locator("tr.picked")).to_have_count(2)
    page.fill(".comment-form textarea", "An empty name is a caller's bug: assert it instead of raising ValueError")
    page.click('[data-act="add-comment"]')
    expect(diff.locator(".comment-row")).to_contain_text("greet.py:5–6")
    expect(page.locator("#send-comments")).to_be_visible()
    dashboard.shoot(page, "web-diff-comment.png")

    page.click("#send-comments")
    got = dashboard.wait_received("review", "assert it instead of raising ValueError")
    assert "greet.py lines 5-6" in got, got
    wait_until(lambda: "assert it instead" in pane_text(dashboard, "review"), message="the comment in the pane")
    expect(page.locator(".comment-row")).to_have_count(0)

    # The unified layout shows the same lines, one column of numbers each.
    page.click('.layout-btn[data-layout="unified"]')
    expect(diff.locator("table.unified tr.ins")).to_have_count(6)
    expect(diff.locator("table.unified tr.del")).to_have_count(3)


def test_diff_and_files_show_the_worktree(dashboard: Dashboard) -> None:
    dashboard.new_session("files")
    wt = dashboard.worktree("files")
    (wt / "src").mkdir()
    (wt / "src" / "util.py").write_text("VALUE = 42\n")
    (wt / "README.md").write_text("# changed by the agent\n")
    page = dashboard.page(at="/?session=files&view=diff")
    expect(page.locator('.diff-file[data-path="src/util.py"]')).to_contain_text("VALUE = 42")
    expect(page.locator('.diff-file[data-path="README.md"]')).to_contain_text("# changed by the agent")

    page.click('.tab[data-tab="files"]')
    expect(page).to_have_url(f"{dashboard.base}/?session=files&view=files")
    side = page.locator(".files-side")
    expect(side.locator(".changed")).to_contain_text("README.md")
    side.locator('.tree li.dir[data-path="src"] > a').click()
    side.locator('.tree a.file-link[data-path="src/util.py"]').click()
    viewer = page.locator('.file-table[data-path="src/util.py"]')
    expect(viewer).to_contain_text("VALUE = 42")
    expect(page).to_have_url(f"{dashboard.base}/?session=files&view=files&file=src%2Futil.py")
    side.locator(".changed a.file-link[data-path='README.md']").click()
    readme = '.file-table[data-path="README.md"]'
    expect(page.locator(f'{readme}[data-side="worktree"]')).to_contain_text("changed by the agent")
    page.click('.viewer-head button:has-text("HEAD")')
    expect(page.locator(f'{readme}[data-side="head"]')).not_to_contain_text("changed by the agent")
    page.fill(".files-side input.find", "util")
    expect(side.locator(".find-results")).to_contain_text("src/util.py")

    # Another worktree of the repository: the main checkout, named in the URL.
    side.locator("select.worktree-select").select_option(str(dashboard.repo))
    expect(page).to_have_url(re.compile(r"[?&]worktree=" + re.escape(quote(str(dashboard.repo), safe=""))))
    side.locator('.tree a.file-link[data-path="README.md"]').click()
    expect(page.locator('.file-table[data-path="README.md"]')).to_contain_text("hello")
    expect(side.locator('.tree a.file-link[data-path="src/util.py"]')).to_have_count(0)


def test_a_deep_link_reopens_the_same_view(dashboard: Dashboard) -> None:
    dashboard.new_session("deep")
    (dashboard.worktree("deep") / "notes.txt").write_text("deep link target\n")
    page = dashboard.page(at="/?session=deep&view=files&file=notes.txt")
    expect(page.locator('.tab[data-tab="files"]')).to_have_attribute("aria-selected", "true")
    expect(page.locator('.file-table[data-path="notes.txt"]')).to_contain_text("deep link target")

    page.reload()
    expect(page.locator('.file-table[data-path="notes.txt"]')).to_contain_text("deep link target")

    page.click('.tab[data-tab="details"]')
    expect(page).to_have_url(f"{dashboard.base}/?session=deep&view=details")
    expect(page.locator(".details-view")).to_contain_text("trails/deep")
    page.go_back()
    expect(page).to_have_url(f"{dashboard.base}/?session=deep&view=files&file=notes.txt")
    expect(page.locator('.tab[data-tab="files"]')).to_have_attribute("aria-selected", "true")
    expect(page.locator('.file-table[data-path="notes.txt"]')).to_be_visible()
    page.go_forward()
    expect(page.locator('.tab[data-tab="details"]')).to_have_attribute("aria-selected", "true")
    page.click(".back")
    expect(page).to_have_url(f"{dashboard.base}/")
    expect(page.locator('.card[data-session="deep"]')).to_be_visible()
    page.go_back()
    expect(page.locator(".session-name")).to_have_text("deep")


def test_new_session_form_shows_errors_under_the_field(dashboard: Dashboard) -> None:
    page = dashboard.page(at="/?view=new")
    expect(page.locator("#new-cwd")).to_have_value(str(dashboard.repo))  # where `trails web` was started
    page.fill("#new-name", "Not A Name!")
    page.fill("#new-agent", "bash --norc --noprofile")
    page.click("#new-create")
    expect(page.locator("#new-name-error")).not_to_be_empty()
    assert trails("ls", "--json", cwd=dashboard.repo).json["sessions"] == []

    page.fill("#new-name", "fromform")
    page.click("#new-create")
    expect(page).to_have_url(f"{dashboard.base}/?session=fromform")
    expect(page.locator(".session-name")).to_have_text("fromform")
    shown = trails("ls", "--json", cwd=dashboard.repo).json["sessions"]
    assert [s["name"] for s in shown] == ["fromform"] and shown[0]["mode"] == "worktree"


def test_the_read_only_view_cannot_act(dashboard: Dashboard) -> None:
    dashboard.new_session("watched")
    page = dashboard.page(read_only=True, at="/?session=watched")
    expect(page.locator("#read-only-badge")).to_be_visible()
    expect(agent_screen(page)).to_contain_text("echo-agent ready")  # it watches
    for act in ("pause", "kill", "upgrade", "export"):
        expect(page.locator(f'.controls [data-act="{act}"]')).to_be_disabled()
    expect(page.locator("#send-text")).to_be_disabled()
    expect(page.locator("#new-session")).to_be_disabled()
    expect(page.locator('.term-switch [data-kind="shell"]')).to_be_hidden()

    page.locator('.terminal-pane[data-kind="agent"] .xterm').click()
    page.keyboard.type("typed by a viewer")
    page.keyboard.press("Enter")
    # The server refuses what the page would not send: a state-changing call with this cookie.
    status = page.evaluate("""async () => {
        const r = await fetch('/api/sessions/watched/pause', {method: 'POST', headers: {'X-Trails-CSRF': '1'}});
        return [r.status, await r.json()];
    }""")
    assert status[0] == 403 and status[1]["error"]["code"] == "not_permitted", json.dumps(status)
    # A marker sent after the viewer's typing arrives; the typing never does.
    assert trails("send", "watched", "marker after the viewer", cwd=dashboard.repo).code == 0
    dashboard.wait_received("watched", "marker after the viewer")
    assert "typed by a viewer" not in dashboard.received("watched")
    expect(agent_screen(page)).to_contain_text("got: marker after the viewer")  # and it still watches
    assert trails("ls", "--json", cwd=dashboard.repo).json["sessions"][0]["status"] != "paused"
