"""container: the session's worktree (made exactly as in worktree mode) bind-mounted at /workspace in
a locked-down container on a Docker engine; the agent runs there through `docker exec -it` in a tmux
pane on trails' server, so attach/send/output/status work as in the other modes.

Nothing of the host is writable inside but /workspace and a git directory of the container's own
(HEAD, index, logs, an object store): the repository's git database is read-only, so the agent
commits on a detached HEAD and trails on the host brings the session's branch up to it
(`catch_up`) whenever it acts on the session (see "the container's own git directory" below).
Settings that weaken isolation (network, privileged, extra mounts) are honoured only from flags or
the user's own settings file, never from a repository's.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tarfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.core import faults, paths
from trails.core.config import EffectiveConfig, Settings
from trails.core.errors import ContainerError, GitError, InvalidInput
from trails.core.limits import Limits
from trails.core.models import Mode, Session
from trails.core.userfiles import expand_user
from trails.infra import gitobjects
from trails.infra.git import Git
from trails.isolation.base import CreateRequest, Placement, Recorder, Released
from trails.isolation.worktree import Provider as WorktreeProvider
from trails.isolation.worktree import SideWork, worktree_git

if TYPE_CHECKING:
    from trails.agents.base import AgentHome, AgentState

WORKSPACE = "/workspace"
LABEL_SESSION = "trails.session"
LABEL_HOME = "trails.home"
NETWORKS = ("none", "bridge", "host")
# Key in a new placement's extra: the container started beside the worktree checkout.
PRESTARTED = "prestarted_container"
STARTING = "container_starting"  # in a new session's extra until its launch: the container is on its way
_SETTINGS = "container_settings"
# Environment variables an agent needs from the caller; passed by name (`docker exec -e NAME`) so
# their values never show in a process list.
_PASS_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "OPENAI_", "GEMINI_", "GOOGLE_", "LC_")
_PASS_NAMES = ("TERM", "COLORTERM", "LANG", "TZ", "NO_COLOR", "TRAILS_SESSION", "TRAILS_HOOK_TOKEN",
               "TRAILS_HOOK_SOCKET", "TRAILS_MCP_TOKEN")
# What tmux sets in the pane `docker exec` runs in: passed on so the agent knows it draws into tmux, as
# on the host (Claude Code otherwise picks a full-screen renderer that tmux and the status screen
# see differently).
_PANE_NAMES = ("TMUX", "TMUX_PANE", "TERM_PROGRAM", "TERM_PROGRAM_VERSION")

_engine_check: tuple[bool, str] | None = None


def home_tag() -> str:
    """Short stable id of this TRAILS_HOME: containers of other homes are never touched."""
    home = str(paths.home_path().resolve())
    return hashlib.sha1(home.encode()).hexdigest()[:8]


def container_name(session_name: str) -> str:
    return f"trails-{home_tag()}-{session_name}"


def host_user() -> str:
    return f"{os.getuid()}:{os.getgid()}"


@dataclass
class ContainerSettings:
    """What a session's container is made from, resolved once and kept in session.extra."""

    image: str  # tag or id; the default image when `default_image`
    default_image: bool
    network: str = "none"
    privileged: bool = False
    mounts: list[dict[str, Any]] = field(default_factory=list)  # extra binds from flags / user settings
    sources: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContainerSettings:
        return cls(**{k: data[k] for k in ("image", "default_image", "network", "privileged", "mounts", "sources")
                      if k in data})


@dataclass(frozen=True)
class DockerfileRecipe:
    """A user's Dockerfile built locally: its directory is the build context."""

    dockerfile: Path

    def build_context(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(self.dockerfile.parent, arcname=".", filter=_skip_git)
            if self.dockerfile.name != "Dockerfile":
                tar.add(self.dockerfile, arcname="Dockerfile")
        return buf.getvalue()

    def content_hash(self) -> str:
        return hashlib.sha256(self.build_context()).hexdigest()


def _skip_git(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if "/.git" in f"/{info.name}" else info


def resolve_settings(
    config: EffectiveConfig, agent: str | None, options: dict[str, Any], *, image_flag: str | None = None,
) -> tuple[ContainerSettings, Path | None, list[dict[str, Any]]]:
    """Image, network and mounts for a new container, and the repository settings that were ignored.

    Returns (settings, dockerfile to build or None, ignored settings).
    """
    ignored: list[dict[str, Any]] = []
    project, user = config.project, config.user
    where = str(config.project_path)
    for key in ("network", "privileged", "mounts"):
        value = getattr(project, key)
        if value not in (None, [], "none", False):
            ignored.append({"key": key, "value": value, "file": where})

    sources: dict[str, str] = {}
    image, dockerfile = image_flag, None
    sources["image"] = "flag"
    if image is None:
        levels: list[tuple[Settings, str, Path | None]] = []
        for settings, name, base in ((project, "project", config.project_path),
                                     (user, "user", config.user_path)):
            agent_settings = settings.agents.get(agent) if agent else None
            if agent_settings is not None:
                levels.append((Settings(image=agent_settings.image, dockerfile=agent_settings.dockerfile),
                               f"{name} agents.{agent}", base))
        levels += [(project, "project", config.project_path), (user, "user", config.user_path)]
        sources["image"] = "default"
        for settings, name, settings_file in levels:
            if settings.image or settings.dockerfile:
                image = settings.image
                if settings.dockerfile and not image:
                    root = settings_file.parent.parent if name.startswith("project") and settings_file else (
                        settings_file.parent if settings_file else paths.home_path())
                    path = expand_user(settings.dockerfile)
                    dockerfile = path if path.is_absolute() else root / path
                sources["image"] = name
                break

    if dockerfile is not None and not dockerfile.is_file():
        raise InvalidInput(f"dockerfile {dockerfile} does not exist ({sources['image']})")
    network = options.get("network") or user.network or "none"
    sources["network"] = "flag" if options.get("network") else ("user" if user.network else "default")
    if network not in NETWORKS:
        raise InvalidInput(f"network {network!r}: choose one of {', '.join(NETWORKS)}")
    flag_mounts = list(options.get("mounts") or [])
    mounts = [_parse_mount(spec) for spec in [*user.mounts, *flag_mounts]]
    if mounts:
        sources["mounts"] = "+".join(w for w, given in (("user", user.mounts), ("flag", flag_mounts)) if given)
    privileged = bool(options.get("privileged")) or bool(user.privileged)
    if privileged:
        sources["privileged"] = "flag" if options.get("privileged") else "user"
    resolved = ContainerSettings(
        image=image or "", default_image=image is None and dockerfile is None, network=str(network),
        privileged=privileged, mounts=mounts, sources=sources,
    )
    return resolved, dockerfile, ignored


def _parse_mount(spec: str) -> dict[str, Any]:
    parts = spec.split(":")
    mode = "ro"
    if parts[-1] in ("ro", "rw") and len(parts) > 1:
        mode = parts.pop()
    if len(parts) > 2 or not parts[0]:
        raise InvalidInput(f"mount {spec!r} is not HOST[:CONTAINER][:ro|rw]")
    try:
        source = str(expand_user(parts[0]).resolve())
    except InvalidInput as exc:
        raise InvalidInput(f"mount {spec!r}: {exc.message}", hint=exc.hint) from None
    target = parts[1] if len(parts) == 2 else source
    if not Path(target).is_absolute():
        raise InvalidInput(f"mount {spec!r}: the container path must be absolute")
    if not os.path.exists(source):
        raise InvalidInput(f"mount {spec!r}: {source} does not exist on this machine")
    return {"source": source, "target": target, "read_only": mode == "ro"}


# --- making an agent's program reachable inside ---------------------------------------------------


def _under(path: Path, roots: list[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def install_root(real: Path) -> Path:
    """The directory to mount so a program installed outside /usr runs: its whole node_modules tree
    or virtualenv when it lives in one, else its own directory."""
    parts = real.parts
    if "node_modules" in parts:
        return Path(*parts[: parts.index("node_modules") + 1])
    for parent in real.parents:
        if (parent / "pyvenv.cfg").exists():
            return parent
    return real.parent


def agent_program(argv: list[str], worktree: Path, image_has_host_usr: bool) -> tuple[list[str], list[Path]]:
    """argv for inside the container, and host directories to mount read-only (at the same path) so
    its program is there. Programs in the host's /usr are there already (default image)."""
    if not argv:
        return argv, []
    program = argv[0]
    visible = [worktree] + ([Path("/usr")] if image_has_host_usr else [])
    if "/" not in program:
        if image_has_host_usr:
            for directory in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin"):
                if os.access(os.path.join(directory, program), os.X_OK):
                    return argv, []
        found = shutil.which(program)
        if found is None:
            return argv, []  # maybe the image has it; the agent's own error will say otherwise
        path = Path(found)
    else:
        path = Path(program)
        if not path.is_absolute():
            return argv, []  # relative to /workspace: it is in the worktree
    # Its directory by its real path (its own name kept): a relative link there (`.bin/x ->
    # ../pkg/cli.js`) resolves inside the container as on the host even when a directory above it
    # is a link (a checkout's node_modules shared from another, ~/bin -> elsewhere), which the mount
    # of the real directory would not bring along.
    path = Path(os.path.realpath(os.path.dirname(os.path.abspath(path)))) / path.name
    real = path.resolve()
    mounts: list[Path] = []
    for p in (path, real):
        if not _under(p, visible) and not any(_under(p, [m]) for m in mounts):
            mounts.append(install_root(p) if p == real else p.parent)
    return [str(path), *argv[1:]], mounts


# --- the container's own git directory ------------------------------------------------------------
#
# A container session's worktree is registered in its repository as usual (on its branch), but
# while the agent runs in the container, its `.git` names a git directory trails keeps outside the
# repository ($TRAILS_HOME/container-git/NAME): HEAD (detached), index, logs and the agent's object
# store. The repository itself is mounted read-only, so the agent cannot move a ref or change an
# object of it, and `git gc` in the repository never meets the agent's HEAD or objects. trails
# moves the branch to that HEAD (`catch_up`) after taking the objects in, each verified.

# Files of the container's git directory the agent must not write: what names the repository, and
# the per-worktree config (read when the repository enables extensions.worktreeConfig).
_GUARDED = ("commondir", "config.worktree")


def _new_gitdir(name: str, common: Path) -> Path:
    """An empty git directory for session `name`'s container (a leftover of an earlier one goes)."""
    gitdir = paths.container_gitdir(name)
    shutil.rmtree(gitdir, ignore_errors=True)
    (gitdir / gitobjects.STORE).mkdir(parents=True, mode=0o700)
    (gitdir / "commondir").write_text(f"{common}\n", encoding="utf-8")
    (gitdir / "config.worktree").touch()  # stays empty: a file to mount read-only
    return gitdir


def _enter_gitdir(name: str, own: Git) -> None:
    """Point the worktree `own` at the container's git directory: HEAD detached at the commit the
    worktree is on, its index copied (nothing in the worktree changes)."""
    gitdir = paths.container_gitdir(name)
    head = own.head_commit()
    if head is None:
        raise GitError(f"the worktree {own.root} is on no commit")
    if (own.git_dir() / "index").is_file():
        shutil.copyfile(own.git_dir() / "index", gitdir / "index")
    (gitdir / "HEAD").write_text(f"{head}\n", encoding="utf-8")
    # As `git checkout --detach` would log it: git status then says "HEAD detached at <commit>".
    (gitdir / "logs").mkdir(exist_ok=True)
    (gitdir / "logs" / "HEAD").write_text(
        f"{'0' * len(head)} {head} trails <trails@localhost> {int(time.time())} +0000\t"
        f"checkout: moving from {own.head_branch() or head} to {head}\n", encoding="utf-8")
    Git(own.root, git_dir=gitdir, common_dir=own.common_dir()).restore_dot_git()


def container_git(name: str, repo_root: Path, worktree: Path) -> Git | None:
    """git for session `name`'s worktree through the container's git directory (None when it has
    none), once the objects its agent wrote are in the repository; they stay readable where they
    are too, for what the agent writes meanwhile."""
    gitdir = paths.container_gitdir(name)
    if not (gitdir / "HEAD").is_file():
        return None
    common = Git(repo_root).common_dir()
    store = gitdir / gitobjects.STORE
    gitobjects.import_objects(store, common)
    return Git(worktree, git_dir=gitdir, common_dir=common, alternates=(store,))


# --- the provider --------------------------------------------------------------------------------


def _ping_engine() -> tuple[bool, str]:
    """One ping on the shared client (what the session will use anyway); the full check, which says
    how to start an engine, only when that fails."""
    try:
        from trails.infra import docker as d
    except ModuleNotFoundError:
        return False, "the docker Python package is not installed"
    if os.environ.get("DOCKER_HOST") is None and not Path("/var/run/docker.sock").exists():
        return d.engine_available()
    try:
        d.client().ping()
    except Exception:
        return d.engine_available()
    return True, "Docker engine answering"


def _progress_printer(say: Any, what: str) -> Any:
    """Progress for an image build: a heading on the first line the build prints, then its lines."""
    if not callable(say):
        return None
    started = False

    def show(line: str) -> None:
        nonlocal started
        if not started:
            say(f"building container image {what} (first use, or its recipe changed)...")
            started = True
        say(f"  {line}")

    return show


@dataclass(frozen=True)
class _Resolved:
    settings: ContainerSettings
    dockerfile: Path | None


class _ContainerStart:
    """A container being created and started on a thread of its own (Docker's API calls block)."""

    def __init__(self, create: Callable[[], str], worktree: Path, gitdir: Path) -> None:
        self._worktree, self._gitdir = worktree, gitdir
        self._cid: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(create,), name="trails-container-start", daemon=True)
        self._thread.start()

    def _run(self, create: Callable[[], str]) -> None:
        try:
            self._cid = create()
            faults.point("container", "started")
        except BaseException as exc:  # handed to the caller's thread by finish()
            self._error = exc

    def finish(self, placement: Placement) -> None:
        from trails.infra import docker as d

        self._thread.join()
        if isinstance(self._error, d.DockerError):
            raise ContainerError(str(self._error), hint=d.hint_for(self._error)) from None
        if self._error is not None:
            raise self._error
        placement.extra[PRESTARTED] = self._cid

    def abandon(self) -> None:
        from trails.infra import docker as d

        self._thread.join()
        if self._cid is not None:
            d.remove(self._cid, force=True)
        # The directories did not exist before this create (checked under the worktree lock).
        shutil.rmtree(self._worktree, ignore_errors=True)
        shutil.rmtree(self._gitdir, ignore_errors=True)


class Provider(WorktreeProvider):
    mode = Mode.CONTAINER

    def unavailable_reason(self, cwd: Path, repo_root: Path | None) -> str | None:
        why = super().unavailable_reason(cwd, repo_root)
        if why is not None:
            return why
        global _engine_check
        if _engine_check is None or not _engine_check[0]:
            _engine_check = _ping_engine()
        ok, reason = _engine_check
        return None if ok else reason

    # --- create ----------------------------------------------------------------------------------

    def prepare(self, request: CreateRequest) -> Placement:
        # Settings first: a bad one fails before anything is made. The image is checked (or built)
        # on the thread that starts the container, beside the worktree checkout.
        agent = request.options.get("agent")
        settings, dockerfile, ignored = resolve_settings(request.config, str(agent) if agent else None,
                                                         request.options, image_flag=request.image)
        request.options[_SETTINGS] = _Resolved(settings, dockerfile)  # for beside_worktree_add
        placement = super().prepare(request)
        placement.extra["container"] = settings.to_dict()
        placement.extra["container_name"] = container_name(request.name)
        placement.extra["agent_home"] = str(self.agent_home(request.name))
        placement.extra["container_gitdir"] = str(paths.container_gitdir(request.name))  # for discard
        if placement.before_agent is not None:
            placement.extra[STARTING] = True
            container_started = placement.before_agent

            def before_agent() -> None:
                container_started()
                # Again, with the image id the start resolved (a later container, on resume, needs it).
                placement.extra["container"] = settings.to_dict()

            placement.before_agent = before_agent
        if ignored:
            placement.extra["ignored_settings"] = ignored
        placement.notes += [_ignored_note(item) for item in ignored]
        if settings.privileged:
            placement.notes.append(f"the container is privileged (from {settings.sources['privileged']}): "
                                   "it holds every capability and sees the host's devices")
        if settings.network != "none":
            placement.notes.append(f"the container has network access ({settings.network}, "
                                   f"from {settings.sources['network']})")
        return placement

    def configure(self, config: EffectiveConfig, options: dict[str, Any], *,
                  image: str | None) -> tuple[ContainerSettings, list[dict[str, Any]]]:
        """Resolve the container settings and make sure the image exists (built here when needed)."""
        agent = options.get("agent")
        settings, dockerfile, ignored = resolve_settings(config, str(agent) if agent else None, options,
                                                         image_flag=image)
        self.ensure_image(settings, dockerfile, options.get("progress"))
        return settings, ignored

    def ensure_image(self, settings: ContainerSettings, dockerfile: Path | None, progress: Any) -> None:
        """Make sure the settings' image exists (the default image or a Dockerfile built here when
        needed) and record its id in `settings.image`."""
        from trails.infra import docker as d
        from trails.infra.default_image import DEFAULT_TAG, default_recipe

        try:
            if settings.default_image:
                settings.image = d.ensure_image(DEFAULT_TAG, default_recipe(), _progress_printer(progress, DEFAULT_TAG))
            elif dockerfile is not None:  # resolve_settings checked that it exists
                recipe = DockerfileRecipe(dockerfile)
                tag = f"trails/custom-{hashlib.sha1(str(dockerfile).encode()).hexdigest()[:10]}:latest"
                settings.image = d.ensure_image(tag, recipe, _progress_printer(progress, f"{tag} from {dockerfile}"))
            else:
                self._check_image(settings.image)
        except d.DockerError as exc:
            raise ContainerError(str(exc), hint=d.hint_for(exc)) from None

    @staticmethod
    def _check_image(image: str) -> None:
        import docker

        from trails.infra import docker as d

        try:
            d.client().images.get(image)
        except docker.errors.ImageNotFound:
            raise ContainerError(
                f"image {image!r} is not on this machine, and no registry is used",
                hint="build it first (docker build -t NAME .), or set `dockerfile` in the settings",
            ) from None

    def beside_worktree_add(self, request: CreateRequest, path: Path) -> SideWork | None:
        # The container starts while git checks the worktree out: a bind mount needs its source to
        # exist, and git checks out into an empty directory as readily as into a new one.
        resolved = request.options[_SETTINGS]
        assert isinstance(resolved, _Resolved) and request.repo_root is not None
        settings, dockerfile = resolved.settings, resolved.dockerfile
        path.mkdir(parents=True)
        _, program_dirs = agent_program(request.argv, path, settings.default_image)
        common = Git(request.repo_root).common_dir()
        gitdir = _new_gitdir(request.name, common)

        def start() -> str:
            self.ensure_image(settings, dockerfile, request.options.get("progress"))
            return self._create(request.name, settings, path, program_dirs, common, gitdir,
                                Limits.from_dict(request.limits))

        return _ContainerStart(start, path, gitdir)

    def worktree_added(self, name: str, repo: Git, path: Path, branch: str, *, created: bool) -> None:
        try:
            _enter_gitdir(name, Git.linked_worktree(repo.root, path))
        except BaseException:
            repo.run("worktree", "remove", "--force", str(path), check=False)
            if created:
                repo.run("branch", "-D", branch, check=False)
            raise

    def readd_worktree(self, name: str, repo: Git, path: Path, branch: str) -> None:
        super().readd_worktree(name, repo, path, branch)
        _new_gitdir(name, repo.common_dir())
        _enter_gitdir(name, Git.linked_worktree(repo.root, path))

    def placement_git(self, name: str, placement: Placement) -> Git:
        assert placement.repo_root is not None and placement.worktree_path is not None
        git = container_git(name, placement.repo_root, placement.worktree_path)
        assert git is not None  # made by worktree_added
        return git

    # --- the session's branch follows the container's detached HEAD -----------------------------

    def catch_up(self, session: Session) -> None:
        """Bring the session's branch to the commit the container's detached HEAD is on (the agent's
        commits, which it cannot put on the branch itself); nothing when HEAD is on a branch."""
        wt = worktree_git(session)
        if wt is None or not session.branch or wt.head_branch() is not None:
            return
        ref = f"refs/heads/{session.branch}"
        head, tip = wt.head_commit(), wt.ref_commit(ref)
        if head is None or head == tip:
            return
        commit = wt.rev_parse(head)  # the HEAD file is the agent's to write: it must name a commit
        if commit is None:
            return  # nothing the branch could follow; saved work still records HEAD as it is
        wt.update_ref(ref, commit, tip or "", message=f"trails: commits of session {session.name} in its container")

    def enter_worktree(self, session: Session) -> None:
        """A worktree moving into a container: it gets the container's git directory, at its HEAD.
        One the worktree still uses (a move out that stopped before it let go) is kept as it is."""
        assert session.repo_root is not None and session.worktree_path is not None
        own = Git.linked_worktree(session.repo_root, session.worktree_path)
        gitdir = paths.container_gitdir(session.name)
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if (gitdir / "HEAD").is_file() and \
                    (own.root / ".git").read_text(encoding="utf-8") == f"gitdir: {gitdir}\n":
                return
        _new_gitdir(session.name, own.common_dir())
        _enter_gitdir(session.name, own)

    def leave_worktree(self, session: Session) -> None:
        """A worktree moving out of its container: its branch caught up, the index the agent left
        handed to the repository's own record of the worktree, and its `.git` pointing there again."""
        self.catch_up(session)  # takes the agent's objects in too
        gitdir = paths.container_gitdir(session.name)
        if session.repo_root and session.worktree_path and Path(session.worktree_path).is_dir():
            own = Git.linked_worktree(session.repo_root, session.worktree_path)
            if (gitdir / "index").is_file():
                shutil.copyfile(gitdir / "index", own.git_dir() / "index")
            own.restore_dot_git()
        shutil.rmtree(gitdir, ignore_errors=True)

    def discard(self, placement: Placement) -> None:
        if placement.before_agent is not None:
            with contextlib.suppress(Exception):  # a container still starting: wait for it, then remove it
                placement.before_agent()
        name = placement.extra.get("container_name")
        if isinstance(name, str):
            self._remove_named(name)
        if placement.worktree_path is not None and placement.repo_root is not None:
            with contextlib.suppress(GitError):  # the repository's own record again, for its removal
                Git.linked_worktree(placement.repo_root, placement.worktree_path).restore_dot_git()
        gitdir = placement.extra.get("container_gitdir")
        if isinstance(gitdir, str):
            shutil.rmtree(gitdir, ignore_errors=True)
        home = placement.extra.get("agent_home")
        if isinstance(home, str):
            shutil.rmtree(home, ignore_errors=True)
        super().discard(placement)

    # --- the agent's terminal --------------------------------------------------------------------

    def launch(self, session: Session, argv: list[str], env: dict[str, str], *, gated: bool = False) -> None:
        from trails.infra import docker as d

        settings = ContainerSettings.from_dict(session.extra["container"])
        assert session.worktree_path is not None
        worktree = Path(session.worktree_path)
        inner_argv, program_dirs = agent_program(argv, worktree, settings.default_image)
        try:
            if session.extra.pop(STARTING, False):
                # Still starting beside the checkout; the agent's terminal waits at its gate until it
                # runs (see `started`), so the exec can name it already.
                target = container_name(session.name)
            else:
                cid = self._running_container(session) or self._create(
                    session.name, settings, worktree, program_dirs, Git(session.repo_root or worktree).common_dir(),
                    paths.container_gitdir(session.name), Limits.from_dict(session.limits))
                session.container_id = target = cid
            inner_env = self._agent_state_inside(session, argv, env)
            names = [k for k in env if (k in session.env or k in _PASS_NAMES or k.startswith(_PASS_PREFIXES))
                     and k not in inner_env and k not in _PANE_NAMES]
            names += _PANE_NAMES  # set by tmux in the pane, where `docker exec -e NAME` reads them
            exec_argv = d.exec_argv(target, inner_argv, user=host_user(), workdir=WORKSPACE, env=inner_env,
                                    pass_env=sorted(names))
        except d.DockerError as exc:
            raise ContainerError(str(exc), hint=d.hint_for(exc)) from None
        self.host.tmux.new_session(
            session.tmux_session, exec_argv, cwd=str(worktree), env=env, exit_file=self.host.exit_file(session),
            gate=self.host.gate_file(session) if gated else None,
        )

    def hook_endpoint(self, session: Session) -> tuple[list[str], str]:
        """The reporter and the hook socket in the hook directory every container has mounted
        read-only (no network needed; that socket answers nothing but hook reports)."""
        from trails.core import hookwire

        return ([hookwire.container_python(), "-I", "-S", f"{hookwire.INNER_DIR}/{hookwire.REPORTER_NAME}"],
                f"{hookwire.INNER_DIR}/{hookwire.SOCKET_NAME}")

    def mcp_endpoint(self, session: Session) -> tuple[tuple[str, ...], dict[str, str]]:
        """The MCP relay in the mounted hook directory: it hands the agent's credential to the server's
        MCP socket there, which runs `trails mcp` on the host for it (core.mcpwire). The home's own
        socket is never mounted: a connection there without a credential is the user's."""
        from trails.core import mcpwire

        return mcpwire.container_relay(), {}

    def started(self, session: Session) -> None:
        session.extra.pop(STARTING, None)
        session.container_id = session.extra.pop(PRESTARTED, None) or session.container_id

    def agent_home(self, session_name: str) -> Path:
        """The container's home directory on the host: the agent's own state (config, conversations)
        lives there, so it survives pause/resume and a new container."""
        from trails.core.paths import container_home

        return container_home(session_name)

    def own_agent_home(self, session: Session) -> AgentHome:
        from trails.agents.base import AgentHome
        from trails.infra.default_image import DEFAULT_HOME

        home = self.agent_home(session.name)
        home.mkdir(mode=0o700, parents=True, exist_ok=True)  # the starting container may not have made it yet
        return AgentHome(home, DEFAULT_HOME)

    def _agent_state_inside(self, session: Session, argv: list[str], env: dict[str, str]) -> dict[str, str]:
        """Give the agent its state in the container home: a copy of its host config the first time,
        and its conversation when it was started on the host (an upgrade). Returns env for inside."""
        from trails.agents import registry
        from trails.infra.default_image import DEFAULT_HOME

        profile = registry.profile_of(session)
        if profile.state is None:
            return {}
        home = self.agent_home(session.name)
        home.mkdir(mode=0o700, parents=True, exist_ok=True)  # the starting container may not have made it yet
        marker = home / ".trails-seeded"
        if marker.exists():
            inner_env = profile.state.container_env(DEFAULT_HOME)
        else:
            inner_env = profile.state.seed_container_home(env, home, DEFAULT_HOME)
            marker.write_text(f"{profile.name}\n")
        host_dir, inner_dir = profile.state.host_dir(env), profile.state.container_dir(home)
        if session.conversation_id and host_dir is not None and inner_dir is not None:
            profile.state.carry_conversation(session.conversation_id, host_dir, inner_dir, WORKSPACE)
        return inner_env

    def agent_cwd(self, session: Session) -> str:
        return WORKSPACE

    def agent_state_dir(self, session: Session, state: AgentState, env: Mapping[str, str]) -> Path | None:
        return state.container_dir(self.agent_home(session.name))  # the CLI inside keeps it in its home

    def export_conversation(self, session: Session, env: Mapping[str, str]) -> bool:
        """Copy the session's conversation from its container home to the agent's host state, for an
        agent that now works in `session.workdir` on the host (export). False when there was none."""
        from trails.agents import registry

        profile = registry.profile_of(session)
        if profile.state is None or not session.conversation_id:
            return False
        host_dir, inner_dir = profile.state.host_dir(env), profile.state.container_dir(self.agent_home(session.name))
        if host_dir is None or inner_dir is None:
            return False
        return profile.state.carry_conversation(session.conversation_id, inner_dir, host_dir, session.workdir)

    def remove_agent_home(self, session_name: str) -> None:
        shutil.rmtree(self.agent_home(session_name), ignore_errors=True)

    def _running_container(self, session: Session) -> str | None:
        """The session's container when it is up and has every mount it needs, else None."""
        from trails.infra import docker as d

        if session.container_id and d.status(session.container_id) == "running":
            return session.container_id
        return None

    def _create(self, session_name: str, settings: ContainerSettings, worktree: Path, program_dirs: list[Path],
                common: Path, gitdir: Path, limits: Limits) -> str:
        from trails.infra import docker as d
        from trails.infra.default_image import DEFAULT_HOME, default_runtime_mounts

        name = container_name(session_name)
        home = self.agent_home(session_name)
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        mounts: list[d.Mount] = list(default_runtime_mounts()) if settings.default_image else []
        mounts += [d.Mount(str(p), str(p), read_only=True) for p in program_dirs]
        mounts.append(d.Mount(str(worktree), WORKSPACE, read_only=False))
        mounts += self._git_mounts(common, gitdir)
        mounts += [d.Mount(m["source"], m["target"], read_only=bool(m["read_only"])) for m in settings.mounts]
        mounts.append(self._hook_mount())
        # git inside writes new objects to the agent's store and reads the repository's as an alternate.
        git_env = {"GIT_OBJECT_DIRECTORY": str(gitdir / gitobjects.STORE),
                   "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(common / "objects")}
        cid = d.create_container(
            name, settings.image, workdir=WORKSPACE, mounts=mounts, user=host_user(),
            env={"TRAILS_SESSION": session_name, **git_env}, network=settings.network,  # type: ignore[arg-type]
            cpus=limits.cpus, memory=limits.memory, pids_limit=limits.pids_limit,
            labels={LABEL_SESSION: session_name, LABEL_HOME: home_tag()}, home=DEFAULT_HOME,
            privileged=settings.privileged, home_source=str(home),
            replace=True,  # a leftover of a crash, or of a session that ended badly, gives way
        )
        try:
            d.start(cid)
        except Exception as exc:
            d.remove(cid, force=True)
            raise ContainerError(f"starting container {name}: {exc}", hint=d.hint_for(exc)) from None
        return cid

    def _hook_mount(self) -> Any:
        """The home's hook directory (its socket, the reporter, the MCP relay and its socket), read-only:
        the agent's hooks and MCP client reach the server through it without a network. A directory,
        not the sockets themselves, so a server restarted later (new sockets) is reached too."""
        from trails.core import hookwire, mcpwire
        from trails.infra import docker as d

        hookwire.install_reporter(self.host.home)
        mcpwire.install_relay(self.host.home)
        return d.Mount(str(hookwire.hook_dir(self.host.home)), hookwire.INNER_DIR, read_only=True)

    @staticmethod
    def _git_mounts(common: Path, gitdir: Path) -> list[Any]:
        """The repository's git database at its host path, read-only, and the container's own git
        directory (see `_new_gitdir`), where what says which repository it belongs to stays read-only."""
        from trails.infra import docker as d

        mounts = [d.Mount(str(common), str(common), read_only=True), d.Mount(str(gitdir), str(gitdir), read_only=False)]
        mounts += [d.Mount(str(gitdir / f), str(gitdir / f), read_only=True) for f in _GUARDED]
        return mounts

    def stop(self, session: Session) -> None:
        from trails.infra import docker as d

        super().stop(session)
        for cid in self._session_containers(session):
            with contextlib.suppress(Exception):  # already stopped or gone: what stop wants
                d.stop(cid, timeout=3)
        # Pause and kill save the worktree next. Should the branch not follow, nothing is lost:
        # saved work has HEAD as its first parent.
        with contextlib.suppress(GitError):
            self.catch_up(session)

    # --- ending ----------------------------------------------------------------------------------

    def check_release(self, session: Session, *, force: bool, delete_branch: bool) -> None:
        self.catch_up(session)  # whether the branch is merged is asked of its tip
        super().check_release(session, force=force, delete_branch=delete_branch)

    def release(self, session: Session, *, force: bool, delete_branch: bool, stamp: str,
                record: Recorder | None = None, env: Mapping[str, str]) -> Released:
        out = super().release(session, force=force, delete_branch=delete_branch, stamp=stamp, record=record, env=env)
        shutil.rmtree(paths.container_gitdir(session.name), ignore_errors=True)  # its objects are in the repository
        removed = self.remove_containers(session)
        if removed:
            out.notes.append(f"container {', '.join(c[:12] for c in removed)} removed")
        # The conversation stays resumable on the host, where the agent keeps its others.
        if self.export_conversation(session, {**env, **session.env}):
            out.notes.append(f"conversation {session.conversation_id} copied to the agent's own state on the host")
        self.remove_agent_home(session.name)
        return out

    # --- moves in and out (core/moves.py) ---------------------------------------------------------

    def configure_session(self, session: Session, config: EffectiveConfig, options: dict[str, Any]) -> list[str]:
        settings, ignored = self.configure(config, {**options, "agent": session.extra.get("agent_profile")},
                                           image=options.get("image"))
        session.extra["container"] = settings.to_dict()
        session.extra["container_name"] = container_name(session.name)
        if ignored:
            session.extra["ignored_settings"] = ignored
        return [_ignored_note(item) for item in ignored]

    def stop_sandbox(self, session: Session) -> None:
        from trails.infra import docker as d

        if session.container_id and d.status(session.container_id) is not None:
            d.stop(session.container_id, timeout=3)

    def start_sandbox(self, session: Session) -> None:
        from trails.infra import docker as d

        if session.container_id and d.status(session.container_id) not in (None, "running"):
            d.start(session.container_id)

    def remove_sandbox(self, session: Session) -> list[str]:
        """Remove the session's containers and its agent home; the containers' ids."""
        removed = self.remove_containers(session)
        self.remove_agent_home(session.name)
        return removed

    def remove_containers(self, session: Session) -> list[str]:
        from trails.infra import docker as d

        found = self._session_containers(session)
        for cid in found:
            d.remove(cid, force=True)
        return found

    def reconciled(self, session: Session) -> str | None:
        """The agent is gone (crash, killed tmux): stop its container so nothing runs unseen."""
        from trails.infra import docker as d

        stopped = []
        for cid in self._session_containers(session):
            if d.status(cid) == "running":
                d.stop(cid, timeout=3)
                stopped.append(cid[:12])
        with contextlib.suppress(GitError):
            self.catch_up(session)  # its last commits reach the branch
        return f"container {', '.join(stopped)} stopped" if stopped else None

    def _session_containers(self, session: Session) -> list[str]:
        """The session's containers: by id from the row and by label (a crash may have lost the id)."""
        from trails.infra import docker as d

        ids: list[str] = []
        if session.container_id and d.status(session.container_id) is not None:
            ids.append(session.container_id)
        for info in d.find_by_label(LABEL_SESSION, session.name):
            if info.labels.get(LABEL_HOME) == home_tag() and info.id not in ids:
                ids.append(info.id)
        return ids

    @staticmethod
    def _remove_named(name: str) -> None:
        from trails.infra import docker as d

        d.remove_named(name)


def _ignored_note(item: dict[str, Any]) -> str:
    return (f"ignored {item['key']}={item['value']!r} from {item['file']}: settings that weaken isolation are "
            "honoured only from flags or your own $TRAILS_HOME/settings.json")
