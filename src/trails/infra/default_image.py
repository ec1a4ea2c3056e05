"""The default container image: a tiny root filesystem built here, with no registry.

The image holds only directories, symlinks and a few /etc files; the programs come from the host's
/usr, bind-mounted read-only at run time (see `default_runtime_mounts`). So the image is a few KB,
builds in a second, and the container runs exactly the python/node/git the host has.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass, field

from trails.infra.docker import Mount

DEFAULT_TAG = "trails/default:latest"
DEFAULT_HOME = "/home/agent"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Host paths the container needs to run the host's programs. /usr holds the programs and libraries;
# /etc/alternatives holds the targets of Debian's alternative symlinks (e.g. /usr/bin/nodejs);
# /etc/ld.so.cache spares the loader a directory search; /etc/ssl has the CA certificates for TLS.
HOST_RUNTIME_PATHS = ("/usr", "/etc/alternatives", "/etc/ld.so.cache", "/etc/ssl")


@dataclass(frozen=True)
class ImageRecipe:
    """A FROM-scratch image: a root filesystem tarball plus the Dockerfile lines that follow it."""

    dirs: dict[str, int] = field(default_factory=dict)  # path -> mode
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # path -> (content, mode)
    symlinks: dict[str, str] = field(default_factory=dict)  # path -> target
    dockerfile_tail: tuple[str, ...] = ()

    def rootfs_tar(self) -> bytes:
        # Fixed mtimes, owners and order so that the same recipe gives the same bytes (and hash).
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(self.dirs):
                tar.addfile(_info(path, tarfile.DIRTYPE, self.dirs[path]))
            for path in sorted(self.symlinks):
                info = _info(path, tarfile.SYMTYPE, 0o777)
                info.linkname = self.symlinks[path]
                tar.addfile(info)
            for path in sorted(self.files):
                data, mode = self.files[path]
                info = _info(path, tarfile.REGTYPE, mode)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    def dockerfile(self) -> str:
        return "\n".join(["FROM scratch", "ADD rootfs.tar /", *self.dockerfile_tail]) + "\n"

    def build_context(self) -> bytes:
        """A tar build context: the Dockerfile and rootfs.tar (which ADD unpacks)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, data in (("Dockerfile", self.dockerfile().encode()), ("rootfs.tar", self.rootfs_tar())):
                info = _info(name, tarfile.REGTYPE, 0o644)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    def content_hash(self) -> str:
        h = hashlib.sha256(self.dockerfile().encode())
        h.update(self.rootfs_tar())
        return h.hexdigest()


def _info(path: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(path.lstrip("/"))
    info.type = kind
    info.mode = mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def default_recipe(uid: int | None = None, gid: int | None = None, home: str = DEFAULT_HOME) -> ImageRecipe:
    """The default image for an agent running as uid:gid (the host user by default)."""
    uid = os.getuid() if uid is None else uid
    gid = os.getgid() if gid is None else gid
    passwd = ["root:x:0:0:root:/root:/bin/bash"]
    group = ["root:x:0:"]
    # Tools such as git and ssh look the running uid up in /etc/passwd; give it a name and the home.
    if uid != 0:
        passwd.append(f"agent:x:{uid}:{gid}:agent:{home}:/bin/bash")
    if gid != 0:
        group.append(f"agent:x:{gid}:")
    passwd.append("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin")
    group.append("nogroup:x:65534:")
    dirs = {"/workspace": 0o755, "/tmp": 0o1777, "/home": 0o755, home: 0o755, "/root": 0o700,
            "/etc": 0o755, "/proc": 0o555, "/sys": 0o555, "/dev": 0o755, "/run": 0o755, "/var": 0o755,
            "/var/tmp": 0o1777}
    # Mount points for the host paths; empty here, filled by the read-only binds.
    dirs.update({p: 0o755 for p in HOST_RUNTIME_PATHS if p != "/etc/ld.so.cache"})
    files = {
        "/etc/passwd": ("\n".join(passwd) + "\n").encode(),
        "/etc/group": ("\n".join(group) + "\n").encode(),
        # The engine bind-mounts its own hosts/resolv.conf/hostname over these placeholders.
        "/etc/hosts": b"127.0.0.1\tlocalhost\n",
        "/etc/resolv.conf": b"",
        "/etc/hostname": b"trails\n",
        "/etc/ld.so.cache": b"",
    }
    # Match the host's merged-/usr layout (Debian 12: /bin -> usr/bin and so on).
    symlinks = {"/bin": "usr/bin", "/sbin": "usr/sbin", "/lib": "usr/lib", "/lib64": "usr/lib64"}
    tail = (f"ENV PATH={PATH}", "CMD " + json.dumps(idle_command()))
    return ImageRecipe(
        dirs=dirs,
        files={p: (data, 0o644) for p, data in files.items()},
        symlinks=symlinks,
        dockerfile_tail=tail,
    )


def idle_command() -> list[str]:
    """PID 1 of the container: the host's tini (reaps orphans of exec'd agents, forwards SIGTERM so
    `stop` is immediate) running `sleep infinity`; bare sleep where tini is not installed."""
    for tini in ("/usr/bin/docker-init", "/usr/bin/tini-static", "/usr/bin/tini"):
        if os.path.exists(tini):
            return [tini, "--", "/usr/bin/sleep", "infinity"]
    return ["/usr/bin/sleep", "infinity"]


def default_runtime_mounts() -> list[Mount]:
    """Read-only binds of the host paths the default image needs (those that exist here)."""
    return [Mount(p, p, read_only=True) for p in HOST_RUNTIME_PATHS if os.path.exists(p)]
