"""Choosing a session's isolation mode: precedence, project rules, fallback. Pure policy."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from trails.core.config import EffectiveConfig, ProjectRule
from trails.core.errors import ModeUnavailable, RuleViolation
from trails.core.models import Mode, parse_mode

# Where a requested mode came from, highest precedence first.
SOURCES = ("flag", "env", "agent preference", "project", "user", "default")
_EXPLICIT = {"flag", "env"}


@dataclass
class ModeDecision:
    mode: Mode
    requested: Mode
    source: str  # one of SOURCES, or "rule" / "fallback" when those changed the mode
    reason: str
    notes: list[str] = field(default_factory=list)
    required_by: ProjectRule | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode.value, "requested": self.requested.value, "source": self.source,
            "reason": self.reason, "notes": self.notes,
            "rule": self.required_by.pattern if self.required_by else None,
        }


def requested_mode(flag: str | None, agent: str, config: EffectiveConfig) -> tuple[Mode, str]:
    env = os.environ.get("TRAILS_MODE")
    candidates: list[tuple[str | None, str]] = [
        (flag, "flag"),
        (env or None, "env"),
        (config.mode_preference(agent), "agent preference"),
        (config.project.session_mode, "project"),
        (config.user.session_mode, "user"),
    ]
    for value, source in candidates:
        if value:
            return parse_mode(value), source
    return Mode.WORKTREE, "default"


def applicable_rules(
    rules: Sequence[ProjectRule], scope: Sequence[str], tracked: Callable[[], list[str]]
) -> list[ProjectRule]:
    """Rules whose pattern matches the scope, or (no scope) any tracked file."""
    if not rules:
        return []
    files = tracked()
    hits = []
    for rule in rules:
        if scope:
            matched = any(
                fnmatch.fnmatch(s, rule.pattern)
                or any(f.startswith(s.rstrip("/") + "/") and fnmatch.fnmatch(f, rule.pattern) for f in files)
                for s in scope
            )
        else:
            matched = any(fnmatch.fnmatch(f, rule.pattern) for f in files)
        if matched:
            hits.append(rule)
    return hits


def _describe(rule: ProjectRule) -> str:
    return f"rule {rule.pattern!r}" + (f" ({rule.reason})" if rule.reason else "")


def select_mode(
    *,
    flag: str | None,
    agent: str,
    config: EffectiveConfig,
    rules: Sequence[ProjectRule],
    unavailable: Callable[[Mode], str | None],
) -> ModeDecision:
    """Apply precedence, then rules, then the fallback chain. Raises when a rule cannot be met."""
    requested, source = requested_mode(flag, agent, config)
    mode, reason = requested, f"{requested.value} from {source}"
    required: ProjectRule | None = None

    for rule in rules:
        if rule.required_mode:
            need = parse_mode(rule.required_mode)
            if required is not None and parse_mode(required.required_mode or "") != need:
                raise RuleViolation(f"{_describe(required)} and {_describe(rule)} require different modes")
            if mode != need and source in _EXPLICIT:
                raise RuleViolation(
                    f"--mode {mode.value} ({source}) breaks {_describe(rule)}: it requires {need.value}"
                )
            if mode != need:
                mode, source, reason = need, "rule", f"{need.value} required by {_describe(rule)}"
            required = rule
    allowed = _allowed(rules)
    if allowed is not None and mode not in allowed:
        rule = next(r for r in rules if r.allowed_modes)
        if source in _EXPLICIT or required is not None:
            raise RuleViolation(
                f"mode {mode.value} breaks {_describe(rule)}: allowed modes are "
                + ", ".join(m.value for m in sorted(allowed, key=lambda m: m.isolation_rank))
            )
        mode = max(allowed, key=lambda m: m.isolation_rank)
        source, reason = "rule", f"{mode.value} allowed by {_describe(rule)}"

    decision = ModeDecision(mode, requested, source, reason, required_by=required)
    why_not = unavailable(mode)
    if why_not is None:
        return decision
    if required is not None:
        raise ModeUnavailable(f"{mode.value} mode cannot run here ({why_not}), and {_describe(required)} requires it")
    chain = [parse_mode(m) for m in config.fallback_chain]
    start = chain.index(mode) + 1 if mode in chain else 0
    for candidate in chain[start:]:
        if allowed is not None and candidate not in allowed:
            continue
        if unavailable(candidate) is None:
            decision.notes.append(f"{mode.value} mode cannot run here ({why_not}); falling back to {candidate.value}")
            decision.mode, decision.source = candidate, "fallback"
            decision.reason = f"{candidate.value} by fallback: {mode.value} unavailable ({why_not})"
            return decision
    raise ModeUnavailable(f"{mode.value} mode cannot run here ({why_not}) and no mode in the fallback chain can")


def _allowed(rules: Sequence[ProjectRule]) -> set[Mode] | None:
    allowed: set[Mode] | None = None
    for rule in rules:
        if rule.allowed_modes:
            modes = {parse_mode(m) for m in rule.allowed_modes}
            allowed = modes if allowed is None else allowed & modes
    return allowed
