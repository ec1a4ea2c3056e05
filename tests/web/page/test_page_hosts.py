"""A remote host's sessions on the page, against a real sshd: a card with its host beside this machine's,
live from the host's events, greyed (never dropped) while the host cannot be reached, back when it can."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.helpers import trails
from tests.remote.conftest import Sshd, sshd  # noqa: F401 (the fixture)
from tests.remote.test_events import kill_master
from tests.web.page.conftest import Dashboard


def test_a_hosts_session_is_a_card_with_its_host_and_greys_while_unreachable(dashboard: Dashboard,
                                                                              sshd: Sshd) -> None:  # noqa: F811
    assert trails(*sshd.add_host()).code == 0
    there = sshd.home / "repo"
    sshd.run_as("git", "init", "-q", "-b", "main", str(there))
    sshd.run_as("sh", "-c", "echo hello > README.md && git add -A && git commit -q -m initial", cwd=there)
    made = trails("new", "r1", "bash --norc --noprofile", "--host", "box", "--repo", "repo", timeout=90)
    assert made.code == 0, made.stderr
    dashboard.new_session("here")
    page = dashboard.page()
    card = page.locator('.card[data-session="box:r1"]')
    expect(card).to_be_visible()
    expect(card.locator(".name")).to_have_text("r1")
    expect(card.locator(".host")).to_have_text("@box")
    expect(page.locator('.card[data-session="here"] .host')).to_be_hidden()
    expect(card).not_to_have_attribute("data-status", "loading")  # the host's status events reach the card

    keys = sshd.home / ".ssh" / "authorized_keys"
    keys.rename(keys.with_suffix(".off"))
    kill_master(Path(dashboard.repo))
    expect(card).to_have_class(re.compile(r"\bunreachable\b"), timeout=30_000)
    expect(card.locator(".status-pill")).to_contain_text("unreachable")
    page.reload()  # a fresh page: the server says what the host last had, greyed
    page.locator("#feed-state[data-state=live]").wait_for()
    expect(page.locator('.card[data-session="here"]')).to_be_visible()
    expect(page.locator('.card[data-session="box:r1"]')).to_have_class(re.compile(r"\bunreachable\b"))

    keys.with_suffix(".off").rename(keys)
    expect(page.locator('.card[data-session="box:r1"]')).to_be_visible(timeout=45_000)
    expect(page.locator('.card[data-session="box:r1"]')).not_to_have_class(re.compile(r"\bunreachable\b"))
    assert not dashboard.errors
