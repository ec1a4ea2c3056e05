"""Choosing a session's isolation mode: precedence, project rules, fallback. Pure policy.

A repository's settings may raise isolation, never lower it below the user's own choice (`floor`):
its session_mode, mode preferences, rules and fallback chain are ignored, with a note, where they
would.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from trails.core.config import DEFAULT_FALLBACK_CHAIN, EffectiveConfig, ProjectRule
from trails.core.errors import ModeUnavailable, RuleViolation
from trails.core.models import Mode, parse_mode
from trails.core.repo_settings import Ignored

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
    ignored: list[Ignored] = field(default_factory=list)  # repository settings that would lower isolation

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode.value, "requested": self.requested.value, "source": self.source,
            "reason": self.reason, "notes": self.notes,
            "rule": self.required_by.pattern if self.required_by else None,
        }


def floor(agent: str, config: EffectiveConfig) -> Mode:
    """The mode the user's own settings (or the default) give `agent`: the least a repository may leave."""
    user = config.user
    profile = user.agents.get(agent)
    chosen = user.mode_preferences.get(agent) or (profile.mode if profile else None) or user.session_mode
    return parse_mode(chosen) if chosen else Mode.WORKTREE


def _lower(value: str, than: Mode) -> bool:
    return parse_mode(value).isolation_rank < than.isolation_rank


def _lowers(key: str, value: object, config: EffectiveConfig, least: Mode) -> Ignored:
    return Ignored(key, value, str(config.project_path),
                   f"a repository may raise isolation, not lower it below {least.value} "
                   "(what your own settings, a flag or the default give)")


def requested_mode(flag: str | None, agent: str, config: EffectiveConfig,
                   env: Mapping[str, str] | None = None) -> tuple[Mode, str, list[Ignored]]:
    """The mode asked for and by whom (`env`: the caller's environment, for TRAILS_MODE), and the
    repository's requests ignored for lowering isolation."""
    from_env = (env or {}).get("TRAILS_MODE")
    for value, source in ((flag, "flag"), (from_env or None, "env")):
        if value:
            return parse_mode(value), source, []
    least = floor(agent, config)
    project, user = config.project, config.user
    project_profile, user_profile = project.agents.get(agent), user.agents.get(agent)
    candidates: list[tuple[str | None, str, str | None]] = [  # value, source, the repository's key
        (project.mode_preferences.get(agent), "agent preference", f"mode_preferences.{agent}"),
        (user.mode_preferences.get(agent), "agent preference", None),
        (project_profile.mode if project_profile else None, "agent preference", f"agents.{agent}.mode"),
        (user_profile.mode if user_profile else None, "agent preference", None),
        (project.session_mode, "project", "session_mode"),
        (user.session_mode, "user", None),
    ]
    ignored: list[Ignored] = []
    for value, source, repo_key in candidates:
        if not value:
            continue
        if repo_key is not None and _lower(value, least):
            ignored.append(_lowers(repo_key, value, config, least))
            continue
        return parse_mode(value), source, ignored
    return Mode.WORKTREE, "default", ignored


def honoured_rules(rules: Sequence[ProjectRule], config: EffectiveConfig, least: Mode,
                   ) -> tuple[list[ProjectRule], list[Ignored]]:
    """The rules to apply: the repository's that would lower isolation below `least` left out."""
    kept: list[ProjectRule] = []
    ignored: list[Ignored] = []
    for rule in rules:
        index = next((i for i, r in enumerate(config.project.project_rules) if r is rule), None)
        if index is None:  # the user's own rule
            kept.append(rule)
        elif rule.required_mode and _lower(rule.required_mode, least):
            ignored.append(_lowers(f"project_rules[{index}].required_mode", rule.required_mode, config, least))
        elif rule.allowed_modes and all(_lower(m, least) for m in rule.allowed_modes):
            ignored.append(_lowers(f"project_rules[{index}].allowed_modes", rule.allowed_modes, config, least))
        else:
            kept.append(rule)
    return kept, ignored


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
    env: Mapping[str, str] | None = None,
) -> ModeDecision:
    """Apply precedence, then rules, then the fallback chain. Raises when a rule cannot be met.
    `env` is the caller's environment (TRAILS_MODE)."""
    requested, source, ignored = requested_mode(flag, agent, config, env)
    mode, reason = requested, f"{requested.value} from {source}"
    required: ProjectRule | None = None
    # An explicit mode is the user's choice for this session; otherwise their settings' choice.
    rules, dropped = honoured_rules(rules, config, requested if source in _EXPLICIT else floor(agent, config))
    ignored += dropped

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

    decision = ModeDecision(mode, requested, source, reason, required_by=required, ignored=ignored)
    decision.notes += [item.note() for item in ignored]
    why_not = unavailable(mode)
    if why_not is None:
        return decision
    if required is not None:
        raise ModeUnavailable(f"{mode.value} mode cannot run here ({why_not}), and {_describe(required)} requires it")
    candidate = _fallback(mode, config, allowed, unavailable, decision)
    if candidate is None:
        raise ModeUnavailable(f"{mode.value} mode cannot run here ({why_not}) and no mode in the fallback chain can")
    decision.notes.append(f"{mode.value} mode cannot run here ({why_not}); falling back to {candidate.value}")
    decision.mode, decision.source = candidate, "fallback"
    decision.reason = f"{candidate.value} by fallback: {mode.value} unavailable ({why_not})"
    return decision


def _fallback(mode: Mode, config: EffectiveConfig, allowed: set[Mode] | None,
              unavailable: Callable[[Mode], str | None], decision: ModeDecision) -> Mode | None:
    """The mode to fall back to from `mode`. A repository's chain is followed only where it leads no
    lower than the user's own chain would (it may stop the fallback, or stop it higher)."""
    known: dict[Mode, str | None] = {mode: "unavailable"}

    def walk(names: Sequence[str]) -> Mode | None:
        chain = [parse_mode(m) for m in names]
        start = chain.index(mode) + 1 if mode in chain else 0
        for candidate in chain[start:]:
            if allowed is not None and candidate not in allowed:
                continue
            if candidate not in known:
                known[candidate] = unavailable(candidate)
            if known[candidate] is None:
                return candidate
        return None

    theirs = walk(config.user.mode_fallback_chain or DEFAULT_FALLBACK_CHAIN)
    repo_chain = config.project.mode_fallback_chain
    if not repo_chain:
        return theirs
    picked = walk(repo_chain)
    if picked is None or (theirs is not None and picked.isolation_rank >= theirs.isolation_rank):
        return picked
    item = Ignored("mode_fallback_chain", list(repo_chain), str(config.project_path),
                   f"it falls back to {picked.value}, lower than your chain's "
                   + (theirs.value if theirs else "refusal to fall back"))
    decision.ignored.append(item)
    decision.notes.append(item.note())
    return theirs


def _allowed(rules: Sequence[ProjectRule]) -> set[Mode] | None:
    allowed: set[Mode] | None = None
    for rule in rules:
        if rule.allowed_modes:
            modes = {parse_mode(m) for m in rule.allowed_modes}
            allowed = modes if allowed is None else allowed & modes
    return allowed
