"""A remote host's session opened on the page, against a real sshd: its URL names it `box:r1` and comes
back on reload; its terminal shows the host's pane and takes typing (bridged by this machine's server
over ssh); the Diff and Files tabs show the remote agent's change, read on the host; no shell there."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.helpers import wait_until
from tests.remote.conftest import Sshd, sshd  # noqa: F401 (the fixture)
from tests.remote.test_commands import remote_bash
from tests.web.page.conftest import Dashboard


def test_a_hosts_session_opens_with_its_terminal_diff_and_files(dashboard: Dashboard, sshd: Sshd) -> None:  # noqa: F811
    worktree = remote_bash(sshd)
    page = dashboard.page()
    page.locator('.card[data-session="box:r1"]').click()
    expect(page).to_have_url(f"{dashboard.base}/?session=box%3Ar1")
    expect(page.locator("#session-screen")).to_have_attribute("data-session", "box:r1")

    pane = page.locator('.terminal-pane[data-kind="agent"]')
    expect(pane.locator(".term-state")).to_have_attribute("data-state", "live")
    expect(pane.locator(".xterm-rows")).to_contain_text("marker-42")  # the host's pane, as it is
    pane.locator(".xterm").click()
    page.keyboard.type("echo from-the-page > notes.txt; echo typed-$((6*7))")
    page.keyboard.press("Enter")
    expect(pane.locator(".xterm-rows")).to_contain_text("typed-42")  # bash on the host ran it
    wait_until(lambda: "from-the-page" in sshd.run_as("cat", f"{worktree}/notes.txt"), timeout=15,
               message="the typed command to run on the host")
    shell = page.locator('.term-switch [data-kind="shell"]')
    expect(shell).to_be_disabled()  # a shell in the host's worktree is not served from here
    expect(shell).to_have_attribute("title", "the worktree is on box: a shell there is not served from here "
                                             "(ssh to box)")

    refused = page.evaluate("""() => new Promise((done) => {
        const ws = new WebSocket(`ws://${location.host}/api/sessions/box%3Ar1/shell`);
        ws.onmessage = (m) => done(JSON.parse(m.data));
    })""")  # what the API says to a page that asks anyway
    assert refused["type"] == "error" and refused["code"] == "remote_unsupported", refused
    assert "the worktree is on box" in refused["message"]

    page.click('.tab[data-tab="diff"]')
    expect(page).to_have_url(f"{dashboard.base}/?session=box%3Ar1&view=diff")
    expect(page.locator('.diff-file[data-path="notes.txt"]')).to_contain_text("from-the-page")

    page.click('.tab[data-tab="files"]')
    side = page.locator(".files-side")
    expect(side.locator(".changed")).to_contain_text("notes.txt")
    side.locator(".changed a.file-link[data-path='notes.txt']").click()
    expect(page.locator('.file-table[data-path="notes.txt"]')).to_contain_text("from-the-page")
    expect(side.locator('.tree a.file-link[data-path="README.md"]')).to_be_visible()
    expect(side.locator("select.worktree-select")).to_contain_text(f"session r1: {worktree}")  # the host's list

    page.reload()  # the URL brings the same remote session and file back
    expect(page).to_have_url(f"{dashboard.base}/?session=box%3Ar1&view=files&file=notes.txt")
    expect(page.locator('.file-table[data-path="notes.txt"]')).to_contain_text("from-the-page")

    viewer = dashboard.page(read_only=True, at="/?session=box%3Ar1")  # a viewer watches, read-only there too
    watched = viewer.locator('.terminal-pane[data-kind="agent"]')
    expect(watched.locator(".term-state")).to_have_attribute("data-state", "live")
    expect(watched.locator(".xterm-rows")).to_contain_text("typed-42")
    assert not dashboard.errors
