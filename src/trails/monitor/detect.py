"""Status detection from a rendered screen, driven by per-agent patterns kept as data.

Patterns live in `trails/agents/patterns/<agent>.json` (busy markers, ready markers, prompt kinds with
the answer to give, where a dialog starts and ends, what may follow a live one, whether the agent
breaks long lines itself); settings can add patterns per agent under
`detection`. Every regex is matched case-insensitively against each rendered line, so small wording
or layout changes between agent versions still match.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

OPTION_CURSORS = "❯›>▶→●"
_BOX_EDGE_RE = re.compile(r"^\s*[│┃]|[│┃]\s*$")  # a dialog drawn in a box: "│ ● 1. Allow once   │"
_OPTION_RE = re.compile(rf"^\s*(?P<cursor>[{OPTION_CURSORS}])?\s*(?:(?P<num>\d{{1,2}})[.)]\s+)?(?P<label>\S.*?)\s*$")


@dataclass(frozen=True)
class Response:
    """How to answer a prompt: pick the option whose label matches `option`, or type `keys`."""

    option: str | None = None
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class CommandSpec:
    """Where a dialog shows the whole command it asks to run: the lines after one matching `start`
    (or from its (?P<command>…) group on), up to one matching `end`, each with `strip` removed (box
    edges, indentation). `boxed`: the lines are drawn inside a box, so room left on a line is the
    blank space before its right edge rather than the rest of the pane."""

    start: re.Pattern[str] | None
    end: re.Pattern[str] | None
    strip: tuple[re.Pattern[str], ...] = ()
    boxed: bool = False


@dataclass(frozen=True)
class PromptRule:
    kind: str
    match: tuple[re.Pattern[str], ...]
    response: Response
    # Where the dialog names its file or command, when the matching line does not: patterns with a
    # (?P<target>...) group, tried on each line of the dialog (e.g. Codex's "Destination: PATH").
    target: tuple[re.Pattern[str], ...] = ()
    # Where it shows the full command to run (tried in order), for the guards to parse.
    command: tuple[CommandSpec, ...] = ()
    # False for a question that runs nothing new (Aider's "Add command output to the chat?").
    runs: bool = True


@dataclass(frozen=True)
class Patterns:
    agent: str
    busy: tuple[re.Pattern[str], ...] = ()
    ready: tuple[re.Pattern[str], ...] = ()
    prompts: tuple[PromptRule, ...] = ()
    dialog_start: re.Pattern[str] | None = None
    dialog_end: re.Pattern[str] | None = None
    # Lines an agent may draw below a live dialog's end (a footer); any other line there means the
    # dialog was answered and the agent has moved on below it.
    after_dialog: tuple[re.Pattern[str], ...] = ()
    # The agent breaks a long line at the pane's edge itself (no terminal wrap to undo): prompts are
    # matched on lines that fill the width joined with the next.
    breaks_long_lines: bool = False


@dataclass
class Detection:
    """What a screen shows. `state` is busy | ready | prompt | None (nothing recognised)."""

    state: str | None
    kind: str | None = None  # prompt kind: trust, write, edit, command, ...
    target: str | None = None  # file or command the prompt is about, when the pattern captures it
    text: str = ""  # the prompt's own text (the dialog), for guards and the audit log
    response: Response | None = None
    lines: list[str] = field(default_factory=list)
    # The command a command prompt runs, as the guards should read it: the text as shown first, then
    # with lines the agent may have wrapped joined; () when the dialog should show it and does not;
    # None when the rule does not say where it is (the guards then judge `target` or `text`).
    commands: tuple[str, ...] | None = None


def _compile(items: Any) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in (items or []) if p)


def _spec(data: dict[str, Any]) -> CommandSpec:
    start, end = data.get("start"), data.get("end")
    return CommandSpec(re.compile(start, re.IGNORECASE) if start else None,
                       re.compile(end, re.IGNORECASE) if end else None,
                       tuple(re.compile(p) for p in data.get("strip", [])), bool(data.get("boxed")))


def _build(agent: str, data: dict[str, Any]) -> Patterns:
    prompts = tuple(
        PromptRule(
            kind=p["kind"], match=_compile(p.get("match")),
            response=Response(p.get("response", {}).get("option"), tuple(p.get("response", {}).get("keys", ()))),
            target=_compile(p.get("target")),
            command=tuple(_spec(c) for c in p.get("command", [])),
            runs=bool(p.get("runs", True)),
        )
        for p in data.get("prompts", [])
    )
    start, end = data.get("dialog_start") or "", data.get("dialog_end") or ""
    return Patterns(
        agent=agent, busy=_compile(data.get("busy")), ready=_compile(data.get("ready")), prompts=prompts,
        dialog_start=re.compile(start, re.IGNORECASE) if start else None,
        dialog_end=re.compile(end, re.IGNORECASE) if end else None,
        after_dialog=_compile(data.get("after_dialog")),
        breaks_long_lines=bool(data.get("breaks_long_lines")),
    )


@lru_cache(maxsize=16)
def _builtin_data(agent: str) -> dict[str, Any]:
    base = resources.files("trails.agents") / "patterns"
    path = base / f"{agent}.json"
    if not path.is_file():
        path = base / "generic.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load_patterns(agent: str, extra: dict[str, Any] | None = None) -> Patterns:
    """Built-in patterns of `agent` (a profile name; unknown → generic) plus settings' additions."""
    data = dict(_builtin_data(agent))
    if extra:
        for key in ("busy", "ready", "after_dialog"):
            data[key] = [*extra.get(key, []), *data.get(key, [])]
        added = [{"kind": k, "match": v, "response": {"option": "^Yes"}} for k, v in extra.get("prompts", {}).items()]
        data["prompts"] = [*added, *data.get("prompts", [])]
    return _build(agent, data)


def _search(patterns: tuple[re.Pattern[str], ...], lines: list[str]) -> re.Match[str] | None:
    for line in lines:
        for pattern in patterns:
            found = pattern.search(line)
            if found:
                return found
    return None


def dialog_text(patterns: Patterns, lines: list[str], anchor: int) -> str:
    """The prompt's dialog around line `anchor`: from the last dialog start above to the end marker below."""
    start, end = dialog_range(patterns, lines, anchor)
    return "\n".join(ln.rstrip() for ln in lines[start:end] if ln.strip())


def dialog_range(patterns: Patterns, lines: list[str], anchor: int) -> tuple[int, int]:
    start, end = max(0, anchor - 3), min(len(lines), anchor + 1)
    if patterns.dialog_start is not None:
        for i in range(anchor, -1, -1):
            if patterns.dialog_start.search(lines[i]):
                start = i + 1 if set(lines[i].strip()) <= set("─━") else i
                break
    if patterns.dialog_end is not None:
        for i in range(anchor, len(lines)):
            if patterns.dialog_end.search(lines[i]):
                end = i + 1
                break
    return start, end


def command_readings(rule: PromptRule, dialog: list[str], width: int | None) -> tuple[str, ...] | None:
    """The command a dialog shows (see Detection.commands), read from its screen lines."""
    if not rule.runs or rule.kind != "command":
        return None
    if not rule.command:
        return None
    for spec in rule.command:
        block = _block(spec, dialog)
        if block:
            return _readings(block, width, spec.boxed)
    return ()


def _block(spec: CommandSpec, dialog: list[str]) -> list[str] | None:
    begin = 0
    first: str | None = None
    if spec.start is not None:
        at = next(((i, m) for i, ln in enumerate(dialog) if (m := spec.start.search(ln))), None)
        if at is None:
            return None
        begin = at[0] + 1
        if "command" in at[1].groupdict() and at[1].group("command") is not None:
            first = at[1].group("command")
    block: list[str] = [first] if first is not None else []
    for line in dialog[begin:]:
        if spec.end is not None and spec.end.search(line):
            break
        for pattern in spec.strip:
            line = pattern.sub("", line, count=1)
        block.append(line)
    else:
        if spec.end is not None:
            return None  # no end on screen: the dialog is not all there
    while block and not block[-1].strip():
        block.pop()
    while block and not block[0].strip():
        block.pop(0)
    return block or None


def _readings(block: list[str], width: int | None, boxed: bool) -> tuple[str, ...]:
    """As shown, then with each line break the agent may have made by wrapping joined (with a space,
    and without): a wrapped line has no room left for the next line's first word."""
    shown = "\n".join(ln.rstrip() for ln in block)
    if not width:
        return (shown,)
    wrapped = []
    for i in range(len(block) - 1):
        room = len(block[i]) - len(block[i].rstrip()) if boxed else width - len(block[i].rstrip()) - 1
        next_word = block[i + 1].strip().split(" ", 1)[0]
        wrapped.append(room <= len(next_word) + 1)
    if not any(wrapped):
        return (shown,)
    out = []
    for joiner in (" ", ""):
        text = block[0].rstrip()
        for i, line in enumerate(block[1:]):
            text += (joiner + line.strip()) if wrapped[i] else "\n" + line.rstrip()
        out.append(text)
    return (shown, *out)


def _live_dialog(patterns: Patterns, lines: list[str], index: int) -> bool:
    """A dialog is live when its end marker is on screen below line `index` with nothing after it but
    blank lines and the agent's footer: an answered one stays in view (Gemini restarts below its
    trust dialog; Aider's questions answered with a bare Enter look unanswered) with output after it."""
    assert patterns.dialog_end is not None
    end = next((i for i in range(index, len(lines)) if patterns.dialog_end.search(lines[i])), None)
    if end is None:
        return False
    return all(not line.strip() or any(p.search(line) for p in patterns.after_dialog) for line in lines[end + 1:])


def joined_lines(lines: list[str], width: int) -> list[str]:
    """Lines that fill `width` joined with the line after them: what an agent broke at the edge."""
    out: list[str] = []
    carry = ""
    for line in lines:
        if len(line) >= width:
            carry += line
            continue
        out.append(carry + line)
        carry = ""
    if carry:
        out.append(carry)
    return out


def detect(patterns: Patterns, lines: list[str], width: int | None = None) -> Detection:
    """Classify a screen: a prompt beats busy, busy beats ready; None when nothing matches.

    `width` is the pane's: with it, prompts of agents that break long lines themselves are matched
    across the break (busy and ready markers keep to the lines as drawn).
    """
    prompt_lines = joined_lines(lines, width) if patterns.breaks_long_lines and width else lines
    found = _prompt(patterns, prompt_lines, None if patterns.breaks_long_lines else width)
    if found is not None:
        return found
    if _search(patterns.busy, lines):
        return Detection("busy", lines=lines)
    if _search(patterns.ready, lines):
        return Detection("ready", lines=lines)
    return Detection(None, lines=lines)


def _prompt(patterns: Patterns, lines: list[str], width: int | None) -> Detection | None:
    for rule in patterns.prompts:
        for index, line in enumerate(lines):
            found = next((m for p in rule.match if (m := p.search(line))), None)
            if found is None:
                continue
            if patterns.dialog_end is not None and not _live_dialog(patterns, lines, index):
                continue  # prompt-like words in the conversation, or a dialog already answered
            start, end = dialog_range(patterns, lines, index)
            text = "\n".join(ln.rstrip() for ln in lines[start:end] if ln.strip())
            target = found.groupdict().get("target")
            if not target and rule.target:
                named = _search(rule.target, text.splitlines())
                target = named.groupdict().get("target") if named else None
            commands = command_readings(rule, lines[start:end], width)
            return Detection("prompt", rule.kind, target.strip() if target else None, text, rule.response, lines,
                             commands)
    return None


@dataclass(frozen=True)
class Option:
    row: int
    number: int | None
    label: str
    selected: bool


def options(text: str) -> list[Option]:
    """The choices of a selection dialog, in screen order, with which one the cursor is on."""
    found: list[Option] = []
    for row, line in enumerate(text.splitlines()):
        m = _OPTION_RE.match(_BOX_EDGE_RE.sub("", line))
        if not m:
            continue
        has_cursor = m.group("cursor") is not None
        if m.group("num") is None and not has_cursor and not (found and found[-1].row == row - 1):
            continue
        # Unnumbered options count only next to the cursor's line (e.g. "❯ No, exit" / "  Yes, I trust").
        found.append(Option(row, int(m.group("num")) if m.group("num") else None, m.group("label"), has_cursor))
    numbered = [o for o in found if o.number is not None]
    if len(numbered) >= 2:
        return numbered
    cursor = next((i for i, o in enumerate(found) if o.selected), None)
    if cursor is None:
        return []
    # Keep the contiguous block of rows around the cursor.
    block = [found[cursor]]
    for o in reversed(found[:cursor]):
        if o.row == block[0].row - 1:
            block.insert(0, o)
    for o in found[cursor + 1:]:
        if o.row == block[-1].row + 1:
            block.append(o)
    return block


def keys_for_option(text: str, wanted: str) -> list[str] | None:
    """The next keys toward choosing the option matching `wanted`: arrows until the cursor is on it, then
    Enter. Agents may ignore keys while they draw, so callers send one step and look again."""
    opts = options(text)
    pattern = re.compile(wanted, re.IGNORECASE)
    target = next((i for i, o in enumerate(opts) if pattern.search(o.label)), None)
    cursor = next((i for i, o in enumerate(opts) if o.selected), None)
    if target is None or cursor is None:
        return None
    moves = target - cursor
    if moves:
        return ["Down"] * moves if moves > 0 else ["Up"] * -moves
    return ["Enter"]
