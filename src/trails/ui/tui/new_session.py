"""The new-session form: name, agent, mode, prompt, branch/base, auto-yes, no MCP, coordinator; errors
shown under each field.

The form checks what it can as you type (the session name, with the engine's own rule) and hands the
rest to the engine: `submit` creates the session and returns None, or the engine's error, which the
form places under the field it is about.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from trails.core.errors import InvalidName, ModeUnavailable, RuleViolation, TrailsError
from trails.core.names import validate_session_name
from trails.ui.tui.confirm import DIALOG_CSS

MODES = [("auto (from config)", ""), ("direct", "direct"), ("worktree", "worktree"), ("container", "container")]
TEXT_FIELDS = ("name", "agent", "prompt", "branch", "base")
ERROR_FIELDS = (*TEXT_FIELDS, "mode", "coordinator")  # each has a place for its error under it


@dataclass
class NewSession:
    name: str
    agent: str
    mode: str | None
    prompt: str | None
    branch: str | None
    base: str | None
    auto_yes: bool
    coordinator: bool = False
    no_mcp: bool = False

    def kwargs(self) -> dict[str, Any]:
        return {"mode": self.mode, "prompt": self.prompt, "branch": self.branch, "base": self.base,
                "auto_yes": self.auto_yes, **({"coordinator": True} if self.coordinator else {}),
                **({"no_mcp": True} if self.no_mcp else {})}


Submit = Callable[[NewSession], Awaitable[TrailsError | None]]


def field_for(error: TrailsError) -> str:
    """Which field an engine error is about ("form" when none in particular): the one it names, else
    guessed from its words (for the few the engine raises without a field)."""
    if error.field in ERROR_FIELDS:
        return error.field
    text = error.message.lower()
    if isinstance(error, InvalidName) or "session name" in text or "already exists" in text:
        return "name"
    if isinstance(error, ModeUnavailable | RuleViolation) or ("mode" in text and "--" not in text):
        return "mode"
    for key in ("branch", "base"):
        if f"--{key}" in text or f"{key} " in text.split(":")[0]:
            return key
    if "agent" in text or "not found on path" in text:
        return "agent"
    return "form"


class NewSessionScreen(ModalScreen[str | None]):
    DEFAULT_CSS = DIALOG_CSS.format(name="NewSessionScreen") + """
    NewSessionScreen > Vertical { width: 84; }
    NewSessionScreen Label { margin-top: 1; }
    NewSessionScreen .error { color: $error; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel"), Binding("ctrl+s", "create", "create")]

    def __init__(self, submit: Submit) -> None:
        super().__init__()
        self.submit = submit

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("New session", classes="title")
            with VerticalScroll():
                yield from self._field("name", Input(placeholder="e.g. fix-login", id="name"))
                yield from self._field("agent", Input(placeholder="claude, codex, aider, gemini, or a command line",
                                                      id="agent"))
                yield from self._field("mode", Select(MODES, value="", allow_blank=False, id="mode"))
                yield from self._field("prompt", Input(placeholder="first prompt (optional)", id="prompt"))
                yield from self._field("branch", Input(placeholder="default: <branch_prefix><name>", id="branch"))
                yield from self._field("base", Input(placeholder="default: HEAD", id="base"))
                yield Checkbox("auto-yes (answer permission prompts, within the guards)", id="auto_yes")
                yield Checkbox("no MCP (its agent is not given trails' MCP server)", id="no_mcp")
                yield Checkbox("coordinator (its agent may run worker sessions)", id="coordinator")
                yield Static("", classes="error", id="coordinator-error")
                yield Static("", classes="error", id="form-error")
            with Horizontal(classes="buttons"):
                yield Button("Create (ctrl+s)", id="create", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    @staticmethod
    def _field(name: str, widget: Any) -> ComposeResult:
        yield Label(name)
        yield widget
        yield Static("", classes="error", id=f"{name}-error")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def show_error(self, field: str, message: str) -> None:
        self.query_one(f"#{field}-error", Static).update(message)

    def clear_errors(self) -> None:
        for error in self.query(".error"):
            if isinstance(error, Static):
                error.update("")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "name":
            self.show_error("name", self._name_problem(event.value) or "")
        elif event.input.id:
            self.show_error(event.input.id, "")

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        if event.checkbox.id in ("no_mcp", "coordinator"):  # the pair a refusal under coordinator is about
            self.show_error("coordinator", "")

    @staticmethod
    def _name_problem(name: str) -> str | None:
        try:
            validate_session_name(name)
        except InvalidName as exc:
            return exc.message
        return None

    def values(self) -> NewSession:
        text = {f: self.query_one(f"#{f}", Input).value.strip() for f in TEXT_FIELDS}
        mode = self.query_one("#mode", Select).value
        return NewSession(
            name=text["name"], agent=text["agent"], mode=str(mode) if mode and mode != Select.BLANK else None,
            prompt=text["prompt"] or None, branch=text["branch"] or None, base=text["base"] or None,
            auto_yes=self.query_one("#auto_yes", Checkbox).value,
            coordinator=self.query_one("#coordinator", Checkbox).value,
            no_mcp=self.query_one("#no_mcp", Checkbox).value,
        )

    async def action_create(self) -> None:
        self.clear_errors()
        request = self.values()
        problems = {"name": self._name_problem(request.name), "agent": None if request.agent else "agent is required"}
        for field, problem in problems.items():
            if problem:
                self.show_error(field, problem)
        if any(problems.values()):
            return
        button = self.query_one("#create", Button)
        button.disabled = True
        try:
            error = await self.submit(request)
        finally:
            button.disabled = False
        if error is None:
            self.dismiss(request.name)
            return
        self.show_error(field_for(error), error.message + (f"\n{error.hint}" if error.hint else ""))

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "create":
            await self.action_create()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.focus_next()

    def action_cancel(self) -> None:
        self.dismiss(None)
