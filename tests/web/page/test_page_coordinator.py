"""Coordinators on the page: the new-session form makes one (or a session without MCP, but not both),
and the grid marks it and shows the workers its agent created right under it."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.helpers import SessionRef, credential, trails
from tests.web.page.conftest import ECHO_AGENT, Dashboard
from trails.api import types as t
from trails.api.caller import Caller, Trust
from trails.api.client import Client


def test_the_form_makes_a_coordinator_and_the_grid_shows_its_workers_under_it(
        dashboard: Dashboard, trails_env: dict[str, Path]) -> None:
    page = dashboard.page(at="/?view=new")
    page.fill("#new-name", "lead")
    page.fill("#new-agent", ECHO_AGENT)
    page.check("#new-coordinator")
    page.click("#new-create")
    expect(page).to_have_url(f"{dashboard.base}/?session=lead")
    lead = trails("show", "lead", "--json", cwd=dashboard.repo).json["session"]
    assert lead["coordinator"] is True and lead["parent"] is None
    dashboard.new_session("solo")

    # The coordinator's agent creates a worker (its own credential, as over MCP).
    token = credential(trails_env["socket"], SessionRef("lead", lead["tmux_session"]))
    agent = Client(trails_env["home"], caller=Caller(trust=Trust.USER, cwd=str(dashboard.repo), credential=token),
                   local=False)
    agent.call(t.Create(name="alpha", agent=ECHO_AGENT))

    page.goto(dashboard.base + "/")
    cards = page.locator(".card")
    expect(cards).to_have_count(3)
    # Sorted by name, but a worker follows its coordinator.
    assert [cards.nth(i).get_attribute("data-session") for i in range(3)] == ["lead", "alpha", "solo"]
    expect(page.locator('.card[data-session="lead"] .coordinator')).to_be_visible()
    expect(page.locator('.card[data-session="solo"] .coordinator')).to_be_hidden()
    worker = page.locator('.card[data-session="alpha"]')
    expect(worker).to_have_class("card worker")
    expect(worker.locator(".parent")).to_have_text("worker of lead")
    expect(worker.locator(".coordinator")).to_be_hidden()
    assert not dashboard.errors


def test_the_form_makes_a_session_without_mcp_and_refuses_a_coordinator_without_it(dashboard: Dashboard) -> None:
    page = dashboard.page(at="/?view=new")
    page.fill("#new-name", "quiet")
    page.fill("#new-agent", ECHO_AGENT)
    page.check("#new-no_mcp")
    page.click("#new-create")
    expect(page).to_have_url(f"{dashboard.base}/?session=quiet")
    quiet = trails("show", "quiet", "--json", cwd=dashboard.repo).json["session"]
    assert quiet["extra"]["mcp"] is False and quiet["coordinator"] is False

    page.goto(dashboard.base + "/?view=new")
    page.fill("#new-name", "lead")
    page.fill("#new-agent", ECHO_AGENT)
    page.check("#new-no_mcp")
    page.check("#new-coordinator")
    page.click("#new-create")
    expect(page.locator("#new-coordinator-error")).to_contain_text("a coordinator needs trails' MCP server")
    expect(page.locator("#new-form-error")).to_have_text("")
    expect(page.locator("#new-coordinator")).to_be_focused()
    assert trails("show", "lead", "--json", cwd=dashboard.repo).code != 0  # nothing was made
    page.uncheck("#new-no_mcp")
    expect(page.locator("#new-coordinator-error")).to_have_text("")
    page.click("#new-create")
    expect(page).to_have_url(f"{dashboard.base}/?session=lead")
    lead = trails("show", "lead", "--json", cwd=dashboard.repo).json["session"]
    assert lead["coordinator"] is True and "mcp" not in lead["extra"]
    assert not dashboard.errors
