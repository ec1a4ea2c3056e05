"""Remote hosts against a real sshd: host add/ls/doctor, a refused key, a remote session's whole life."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import trails, wait_until
from tests.remote.conftest import Sshd


def test_host_add_ls_doctor_rm(sshd: Sshd) -> None:
    added = trails(*sshd.add_host(), "--json")
    assert added.code == 0, added.stderr
    listed = trails("host", "ls", "--json").json
    assert listed["hosts"]["box"]["target"].endswith(f"127.0.0.1:{sshd.port}")
    hosts_file = Path(trails("doctor", "--json").json["trails_home"]) / "hosts.json"
    assert hosts_file.stat().st_mode & 0o077 == 0
    doctor = trails("host", "doctor", "box", "--json", timeout=90)
    assert doctor.code == 0, doctor.stderr
    report = doctor.json
    assert report["same_version"] is True
    assert report["doctor"]["trails_home"] == str(sshd.home / ".trails")
    assert trails("host", "rm", "box", "--json").code == 0
    assert trails("host", "ls", "--json").json == {"hosts": {}}


def test_refused_key_is_host_auth_refused(sshd: Sshd, tmp_path: Path) -> None:
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    assert trails(*sshd.add_host("box", key=tmp_path / "other")).code == 0
    doctor = trails("host", "doctor", "box", "--json", timeout=60)
    assert doctor.code != 0
    assert doctor.error["code"] == "host_auth_refused"
    assert "publickey" in doctor.error["message"]
    listed = trails("ls", "--json").json  # the host is said to be unreachable, not dropped
    assert listed["hosts"]["box"]["reachable"] is False
    assert listed["hosts"]["box"]["error"]["code"] == "host_auth_refused"


def test_remote_session_lifecycle(sshd: Sshd, repo: Path) -> None:
    assert trails(*sshd.add_host()).code == 0
    remote_repo = sshd.home / "repo"
    sshd.run_as("git", "init", "-q", "-b", "main", str(remote_repo))
    sshd.run_as("sh", "-c", 'echo hello > README.md && git add -A && git commit -q -m initial', cwd=remote_repo)
    assert trails("new", "here", "bash --norc --noprofile", "--mode", "worktree", cwd=repo).code == 0
    made = trails("new", "s1", "bash --norc --noprofile", "--mode", "worktree", "--host", "box",
                  "--repo", "repo", "--json", timeout=90)
    assert made.code == 0, made.stderr
    assert made.json["session"]["repo_root"] == str(remote_repo)
    listed = trails("ls", "--json", timeout=60).json
    assert [s["name"] for s in listed["sessions"]] == ["here"]
    assert [s["name"] for s in listed["hosts"]["box"]["sessions"]] == ["s1"]
    human = trails("ls", timeout=60).stdout
    assert "HOST" in human and "box" in human and "local" in human
    sent = trails("send", "box:s1", "echo remote-was-here > made.txt; echo done-$((6*7))", timeout=60)
    assert sent.code == 0, sent.stderr
    wait_until(lambda: "done-42" in trails("output", "box:s1", "--json", timeout=60).json["output"],
               timeout=30, message="the remote agent's output")
    diff = trails("diff", "box:s1", "--json", timeout=60)
    assert "made.txt" in diff.stdout, diff.stderr
    shown = trails("show", "s1", "--json", timeout=60)  # a plain name: the one host that has it
    assert shown.code == 0, shown.stderr
    assert shown.json["session"]["status"] != "paused"
    assert trails("show", "nowhere", "--json", timeout=60).error["code"] == "session_not_found"
    paused = trails("pause", "box:s1", "--json", timeout=90)
    assert paused.code == 0, paused.stderr
    assert trails("show", "box:s1", "--json", timeout=60).json["session"]["status"] == "paused"
    resumed = trails("resume", "box:s1", "--json", timeout=90)
    assert resumed.code == 0, resumed.stderr
    killed = trails("kill", "box:s1", "--force", "--json", timeout=90)
    assert killed.code == 0, killed.stderr
    assert trails("ls", "--json", timeout=60).json["hosts"]["box"]["sessions"] == []


def test_host_without_trails_says_how_to_install(sshd: Sshd) -> None:
    args = sshd.add_host()
    args[args.index("--command") + 1] = "/nonexistent/trails"
    assert trails(*args).code == 0
    doctor = trails("host", "doctor", "box", "--json", timeout=60)
    assert doctor.code != 0
    assert doctor.error["code"] == "host_trails_missing"
    assert "pipx install trails" in doctor.error["hint"]


def test_attach_runs_ssh_into_the_remote_tmux(sshd: Sshd) -> None:
    import shlex

    from trails.api.remote import attach_argv

    assert trails(*sshd.add_host()).code == 0
    argv = attach_argv("box", ["tmux", "-S", "/home/x/tmux sock", "attach", "-t", "=s1"])
    assert argv[:2] == ["ssh", "-t"] and "BatchMode=yes" in argv
    assert argv[-2] == "--" and shlex.split(argv[-1]) == ["tmux", "-S", "/home/x/tmux sock", "attach", "-t", "=s1"]
