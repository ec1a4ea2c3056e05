"""A thin typed wrapper over the Docker Engine API (the `docker` SDK). No policy lives here.

The SDK is imported inside functions so that importing this module costs nothing when container
mode is not used.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from docker import DockerClient

RECIPE_LABEL = "trails.recipe-hash"
NetworkMode = Literal["none", "bridge", "host"]
ENGINE_HINT = "run scripts/ensure-docker.sh (as root) or start dockerd"


class DockerError(RuntimeError):
    """The engine is unreachable or refused an operation."""


def hint_for(exc: BaseException) -> str | None:
    """How to fix a failed engine call: start an engine, unless one answered (then its message says why)."""
    import docker

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, docker.errors.APIError):
            return None
        seen = seen.__cause__
    return ENGINE_HINT


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool = True  # writable only when asked for


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    name: str
    status: str
    image: str
    labels: dict[str, str] = field(default_factory=dict)


class Recipe(Protocol):
    """What ensure_image needs from an image recipe (see default_image.ImageRecipe)."""

    def build_context(self) -> bytes: ...
    def content_hash(self) -> str: ...


_client: DockerClient | None = None
# The engine's API version once learnt (see prime): a client made with it skips the SDK's version
# round trip (~15 ms, with a connection of its own) on every command.
_api_version: str | None = None


def client(timeout: float = 60) -> DockerClient:
    """A shared client bound to the local engine (DOCKER_HOST or the default socket)."""
    global _client
    if _client is None:
        import docker

        try:
            _client = docker.from_env(timeout=int(timeout), version=_api_version or "auto")
        except docker.errors.DockerException as e:
            raise DockerError(f"Docker engine not reachable: {e}; {ENGINE_HINT}") from e
    return _client


def prime(timeout: float = 2.0) -> None:
    """Learn the engine's API version for the clients this process (and its forks) will make.
    Keeps no client and no connection, so it is safe before fork(); no engine: nothing learnt."""
    global _api_version
    import docker

    try:
        probe = docker.from_env(timeout=max(1, int(timeout)))
        try:
            _api_version = str(probe.api.api_version)
        finally:
            probe.close()
    except Exception:  # no engine now: clients will ask it themselves
        _api_version = None


def engine_available(timeout: float = 2.0) -> tuple[bool, str]:
    """Ping the engine with a short timeout; the reason says how to start one when it is absent."""
    import docker

    try:
        c = docker.from_env(timeout=max(1, int(timeout)))
        try:
            c.ping()
            version = c.version().get("Version", "?")
        finally:
            c.close()
    except Exception as e:  # the SDK raises several unrelated types for "no engine"
        return False, f"Docker engine not available ({type(e).__name__}: {e}); {ENGINE_HINT}"
    return True, f"Docker engine {version}"


def ensure_image(tag: str, recipe: Recipe, progress: Callable[[str], None] | None = None) -> str:
    """Build `recipe` locally as `tag` unless an image with its content hash exists; return the image id."""
    import docker

    c = client()
    digest = recipe.content_hash()
    try:
        image = c.images.get(tag)
        if image.labels.get(RECIPE_LABEL) == digest:
            return str(image.id)
    except docker.errors.ImageNotFound:
        pass
    # The low-level call streams the build log, which is what `progress` shows.
    stream = c.api.build(
        fileobj=io.BytesIO(recipe.build_context()), custom_context=True, tag=tag, labels={RECIPE_LABEL: digest},
        rm=True, forcerm=True, decode=True,
    )
    for chunk in stream:
        if "error" in chunk:
            raise DockerError(f"building {tag} failed: {chunk['error'].strip()}")
        if progress is not None and chunk.get("stream", "").strip():
            progress(chunk["stream"].rstrip())
    return str(c.images.get(tag).id)


def create_container(
    name: str,
    image: str,
    *,
    workdir: str,
    mounts: Sequence[Mount],
    user: str,
    env: Mapping[str, str] | None = None,
    network: NetworkMode = "none",
    cpus: float | None = None,
    memory: str | None = None,
    pids_limit: int | None = None,
    labels: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
    home: str = "/home/agent",
    tmp_size: str = "512m",
    init: bool = False,
    privileged: bool = False,
    home_source: str | None = None,
    replace: bool = False,
) -> str:
    """Create (not start) a locked-down idle container; the agent is started later with exec.

    The root filesystem is read-only; /tmp and `home` are tmpfs (`home` is a bind mount of
    `home_source` when given, so the agent's own state outlives the container); all capabilities are dropped;
    so only the read-write mounts persist anything. `command` None means the image's CMD.
    `privileged` (only ever from the user's own settings or flags) gives back every capability.
    `replace` removes a container that already has the name (a leftover) and creates it again.
    `init` asks the engine for its tini at /sbin/docker-init: that fails when /sbin leads into a
    read-only mount (the default image), whose CMD therefore runs the host's tini itself.
    """
    import docker
    from docker.types import Mount as DockerMount

    uid, _, gid = user.partition(":")
    owner = f"uid={uid},gid={gid or uid}" if uid.isdigit() and (gid or uid).isdigit() else ""
    kwargs: dict[str, Any] = {}
    if memory is not None:
        # Equal memory and memory+swap: the limit is a hard limit, not "plus as much swap again".
        kwargs.update(mem_limit=memory, memswap_limit=memory)
    if cpus is not None:
        kwargs["nano_cpus"] = int(cpus * 1e9)
    if pids_limit is not None:
        kwargs["pids_limit"] = pids_limit
    # "exec": with a read-only root the engine would mount these noexec, and agents run build tools
    # and test binaries from /tmp and their home.
    tmpfs = {"/tmp": f"rw,exec,nosuid,nodev,size={tmp_size},mode=1777"}
    if home_source is None:
        tmpfs[home] = f"rw,exec,nosuid,nodev,size={tmp_size},mode=0700,{owner}".rstrip(",")
    binds = [*mounts, *([Mount(home_source, home, read_only=False)] if home_source else [])]
    try:
        # The low-level calls: the high-level create inspects the new container afterwards, a round
        # trip nobody here needs.
        api = client().api
        host_config = api.create_host_config(
            mounts=[DockerMount(m.target, m.source, type="bind", read_only=m.read_only) for m in binds],
            tmpfs=tmpfs,
            read_only=True,
            privileged=privileged,
            cap_drop=None if privileged else ["ALL"],
            security_opt=None if privileged else ["no-new-privileges"],
            network_mode=network,
            init=init,
            **kwargs,
        )
        spec: dict[str, Any] = dict(
            command=list(command) if command is not None else None, name=name, working_dir=workdir, user=user,
            environment={"HOME": home, **(env or {})}, labels=dict(labels or {}), host_config=host_config,
        )
        try:
            created = api.create_container(image, **spec)
        except docker.errors.APIError as e:
            if not (replace and e.status_code == 409):  # 409: the name is taken
                raise
            remove_named(name)
            created = api.create_container(image, **spec)
    except Exception as e:
        raise DockerError(f"creating container {name}: {e}") from e
    return str(created["Id"])


def _container(cid: str) -> Any:
    return client().containers.get(cid)


def start(cid: str) -> None:
    client().api.start(cid)  # no inspect first: one round trip


def remove_named(name: str) -> bool:
    """Remove the container called `name` if there is one (one round trip); True when one was."""
    import docker

    try:
        client().api.remove_container(name, force=True)
    except docker.errors.NotFound:
        return False
    return True


def stop(cid: str, timeout: int = 10) -> None:
    _container(cid).stop(timeout=timeout)


def remove(cid: str, force: bool = True) -> None:
    """Remove the container; a container that is already gone is not an error."""
    import docker

    with contextlib.suppress(docker.errors.NotFound):
        _container(cid).remove(force=force)


def status(cid: str) -> str | None:
    """The engine's status ("created", "running", "exited", ...) or None when the container is gone."""
    import docker

    try:
        return str(_container(cid).status)
    except docker.errors.NotFound:
        return None


def find_by_label(key: str, value: str) -> list[ContainerInfo]:
    """All containers (running or not) labelled key=value: used to reconcile after a crash.

    One list call, no inspect per container: a container removed between the list and an inspect
    (another home's clean-up on a shared engine) must not fail the whole listing.
    """
    found: list[dict[str, Any]] = client().api.containers(all=True, filters={"label": f"{key}={value}"})
    return [
        ContainerInfo(
            id=str(c["Id"]), name=str((c.get("Names") or ["/"])[0]).lstrip("/"), status=str(c.get("State", "")),
            image=str(c.get("Image", "")), labels=dict(c.get("Labels") or {}),
        )
        for c in found
    ]


def exec_argv(
    cid: str,
    argv: Sequence[str],
    *,
    user: str,
    workdir: str,
    env: Mapping[str, str] | None = None,
    pass_env: Sequence[str] = (),
    tty: bool = True,
    docker_bin: str = "docker",
) -> list[str]:
    """The docker CLI argument list that runs argv interactively in the container (e.g. in a tmux pane).

    `env` values appear in the process list; names in `pass_env` are passed as bare `-e NAME`, so the
    CLI copies them from its own environment and secrets stay out of argv.
    """
    out = [docker_bin, "exec", "-it" if tty else "-i", "-u", user, "-w", workdir]
    for k, v in (env or {}).items():
        out += ["-e", f"{k}={v}"]
    for k in pass_env:
        out += ["-e", k]
    return [*out, cid, *argv]


def exec_run(
    cid: str, argv: Sequence[str], user: str, *, workdir: str | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    """Run argv to completion in the container through the API; (exit code, stdout+stderr)."""
    result = _container(cid).exec_run(list(argv), user=user, workdir=workdir, environment=dict(env or {}))
    return int(result.exit_code), result.output.decode(errors="replace")
