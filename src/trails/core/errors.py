"""One exception hierarchy; each class carries the stable code the CLI's --json errors reuse."""

from __future__ import annotations


class TrailsError(Exception):
    """Base of every error trails reports to a user. `code` is stable for scripts."""

    code = "error"
    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.field = field  # which input was wrong (a request field's name), so a form can show it there

    def to_dict(self) -> dict[str, str]:
        out = {"code": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        if self.field:
            out["field"] = self.field
        return out


class InvalidInput(TrailsError):
    code = "invalid_input"
    exit_code = 2


class InvalidName(InvalidInput):
    code = "invalid_name"


class ConfigError(TrailsError):
    code = "config_error"
    exit_code = 2


class UntrustedRepository(TrailsError):
    """A repository asks trails to run something of its own (an agent profile) and is not trusted."""

    code = "untrusted_repository"


class SessionNotFound(TrailsError):
    code = "session_not_found"


class SessionExists(TrailsError):
    code = "session_exists"


class SessionStateError(TrailsError):
    """The session is in a state that does not allow the action (e.g. send to an ended session)."""

    code = "session_state"


class NotPermitted(TrailsError):
    """The caller may not ask for this (an agent asking to weaken its isolation, a read-only web token)."""

    code = "not_permitted"
    exit_code = 3


class UnsafeSocket(TrailsError):
    """A socket trails would talk through is not provably its own user's (directory or listener)."""

    code = "unsafe_socket"


class ModeUnavailable(TrailsError):
    code = "mode_unavailable"


class RuleViolation(TrailsError):
    code = "rule_violation"


class GitError(TrailsError):
    code = "git_error"


class RepoBusy(GitError):
    """A rebase/merge/cherry-pick/bisect is in progress."""

    code = "repo_busy"


class BranchError(GitError):
    code = "branch_error"


class WorktreeError(GitError):
    code = "worktree_error"


class WorktreeLimit(WorktreeError):
    code = "worktree_limit"


class UncommittedWork(TrailsError):
    """An action would destroy uncommitted work and was not forced."""

    code = "uncommitted_work"


class StateError(TrailsError):
    """trails' own files under TRAILS_HOME (the state database, locks, logs) cannot be used."""

    code = "state_error"


class SupervisorError(TrailsError):
    """The supervisor that watches live sessions could not be started."""

    code = "supervisor_error"


class ServerError(TrailsError):
    """This home's trails server could not be started or reached, or broke off an answer."""

    code = "server_error"


class Cancelled(TrailsError):
    """The operation was cancelled (Ctrl-C, or a `cancel` request naming its job)."""

    code = "cancelled"
    exit_code = 130


class TmuxError(TrailsError):
    code = "tmux_error"


class ContainerError(TrailsError):
    code = "container_error"


class RunFileError(InvalidInput):
    """A run file that cannot run; the message names the file and line."""

    code = "run_file_invalid"


class RunError(TrailsError):
    """A scripted run that cannot start or continue (output directory, shadow repository, resume)."""

    code = "run_error"


class MoveFailed(TrailsError):
    """A move between modes failed part way; everything it did was undone."""

    code = "move_failed"


class InvalidWorktree(InvalidInput):
    """A `worktree` that is not one git lists for a repository trails knows (nothing was read)."""

    code = "invalid_worktree"


class PathOutsideWorktree(InvalidInput):
    """A file path that leaves its worktree (`..`, an absolute path, a symlink pointing out)."""

    code = "path_outside_worktree"


# --- agents' coordination (issue #12): messages, claims, artifacts -----------------------------------


class NeedsSession(InvalidInput):
    """A coordination call that acts for a session, from a caller who is none (the user): name one."""

    code = "needs_session"


class TooLarge(InvalidInput):
    """A message or an artifact over its size limit: nothing was stored."""

    code = "too_large"


class RateLimited(TrailsError):
    """A session sent more messages in the last minute than the limit allows: nothing was stored."""

    code = "rate_limited"


class InvalidClaim(InvalidInput):
    """A claimed path or glob that is empty, absolute outside the repository, or climbs out with `..`."""

    code = "invalid_claim"


class ClaimConflict(TrailsError):
    """A claim overlaps one another live session holds; the message names the holder, path and reason."""

    code = "claim_conflict"


class ArtifactNotFound(TrailsError):
    code = "artifact_not_found"


class ArtifactTaken(TrailsError):
    """An artifact's name is another session's in this repository: only its sharer may replace it."""

    code = "artifact_taken"


# --- remote hosts (issue #16) ---------------------------------------------------------------------------


class HostError(TrailsError):
    """A remote host (trails host …) could not be used: not configured, unreachable, or no trails on it."""

    code = "host_error"


class HostNotFound(HostError):
    code = "host_not_found"


class HostUnreachable(HostError):
    """ssh could not reach the host (no route, refused, timed out, unknown name)."""

    code = "host_unreachable"


class HostAuthRefused(HostError):
    """The host's sshd refused every key ssh offered (BatchMode: no password is ever asked)."""

    code = "host_auth_refused"


class HostKeyUnknown(HostError):
    """ssh does not know (or no longer recognises) the host's key: trails never accepts one for you."""

    code = "host_key_unverified"


class TrailsMissing(HostError):
    """The host answers ssh but has no `trails` command to run."""

    code = "host_trails_missing"


class RemoteUnsupported(InvalidInput):
    """What a remote host's session cannot have from this machine (a shell in its worktree, say)."""

    code = "remote_unsupported"
