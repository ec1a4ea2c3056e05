"""Sessions as Ray tasks on a real local multi-node cluster (Ray's own cluster utilities, one process per node)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.anthropic_server import Reply, ScriptedAnthropicServer, last_user_text, tool_results, working_directory
from tests.helpers import git, trails, wait_until
from tests.runs.conftest import fake_agent_command
from tests.runs.test_claude_runs import claude, server  # noqa: F401  (fixtures)
from tests.runs.test_executor import log_entries, running

MB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head that runs no sessions and three 1-CPU worker nodes; torn down after this module.

    The nodes (processes on this machine) share one node cache, in a directory of this module's own.
    """
    from ray.cluster_utils import Cluster

    cache = Path(tempfile.mkdtemp(prefix="trails-ray-cache-"))
    os.environ["TRAILS_RAY_CACHE"] = str(cache)  # the nodes' processes inherit it
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": 80 * MB,
                                                      "include_dashboard": False})
    try:
        for _ in range(3):
            c.add_node(num_cpus=1, object_store_memory=80 * MB)
        c.wait_for_nodes()
        yield c
    finally:
        c.shutdown()
        del os.environ["TRAILS_RAY_CACHE"]
        shutil.rmtree(cache, ignore_errors=True)


def shadow_state(out: Path) -> dict[str, str]:
    """tag → tree: the file state of every snapshot (commit ids differ by time; trees do not)."""
    tags = git(out, f"--git-dir={out / '.shadow_git'}", "tag").split()
    return {t: git(out, f"--git-dir={out / '.shadow_git'}", "rev-parse", f"refs/tags/{t}^{{tree}}") for t in tags}


def forked_run(tmp_path: Path, claude_bin: Path, name: str) -> Path:
    wd = tmp_path / name / "wd"
    wd.mkdir(parents=True)
    (wd / "README.md").write_text("hello\n")
    path = tmp_path / name / "run.yaml"
    path.write_text(f"agent: {claude_bin}\nwork_dir: ./wd\nsession_mode: forked\npermission_mode: acceptEdits\n"
                    "max_turns: 5\ntimeout: 90\nresources: {num_cpus: 1}\nsessions:\n"
                    "  - {session_index: 1, prompt: 'F1 explore'}\n"
                    "  - {session_index: 2, prompt: 'F2 analyse', count: 4}\n")
    return path


def script_writes(srv: ScriptedAnthropicServer) -> None:
    """Each prompt writes one file into the session's own work dir (wherever that is)."""
    def write(name: str, content: str) -> Any:
        return lambda body: Reply.tool_use("Write", {"file_path": f"{working_directory(body)}/{name}",
                                                     "content": content})
    srv.script.on(lambda b: last_user_text(b) == "F1 explore" and not tool_results(b), write("notes.md", "n\n"))
    srv.script.on(lambda b: last_user_text(b) == "F2 analyse" and not tool_results(b), write("report.md", "r\n"))


def test_forked_replicates_on_three_nodes_leave_the_run_dir_a_local_run_leaves(
        tmp_path: Path, cluster: Any, claude: Path, server: ScriptedAnthropicServer) -> None:  # noqa: F811
    script_writes(server)
    local = forked_run(tmp_path, claude, "local")
    res = trails("run", str(local), "--out", str(tmp_path / "local" / "out"), "--parallel", "2", "--json",
                 timeout=300)
    assert res.code == 0, res.stderr
    remote = forked_run(tmp_path, claude, "ray")
    res = trails("run", str(remote), "--out", str(tmp_path / "ray" / "out"), "--ray", cluster.address, "--json",
                 timeout=300)
    assert res.code == 0, res.stderr
    lout, rout = tmp_path / "local" / "out", tmp_path / "ray" / "out"
    assert shadow_state(lout) == shadow_state(rout)
    assert sorted(shadow_state(rout)) == ["baseline", "session_01", *(f"session_02_r0{r}" for r in range(1, 5))]
    assert (lout / "full_diff.patch").read_text() == (rout / "full_diff.patch").read_text()
    assert (tmp_path / "ray" / "wd" / "notes.md").read_text() == "n\n"  # the work dir ends as a local run's does
    nodes = set()
    for label in ["session_01", *(f"session_02_r0{r}" for r in range(1, 5))]:
        lr = json.loads((lout / label / "result.json").read_text())
        rr = json.loads((rout / label / "result.json").read_text())
        assert set(lr) == set(rr), label
        for key in ("status", "start_tag", "start_tree", "files_changed", "resumed_from", "forked", "turns"):
            assert lr[key] == rr[key], (label, key)
        assert rr["work_dir"].startswith("ray:")
        nodes.add(rr["work_dir"].split(":")[1])
        for name in ("trajectory.json", "transcript.jsonl", "session_diff.patch", "agent_result.json"):
            assert (rout / label / name).exists(), (label, name)
    assert len(nodes) >= 2  # the replicates spread over the nodes
    state = json.loads((rout / "run.json").read_text())
    assert state["backend"] == f"ray:{cluster.address}" and state["totals"]["ok"] == 5


def test_a_session_whose_node_dies_is_retried_on_another(tmp_path: Path, cluster: Any, work_dir: Path,
                                                         agent_log: Path) -> None:
    release = tmp_path / "release"
    path = tmp_path / "run.yaml"
    path.write_text(f"agent: {fake_agent_command()}\nwork_dir: ./wd\nray: {{address: '{cluster.address}'}}\n"
                    "sessions:\n  - {session_index: 1, prompt: 'block; write out.txt $REPLICATE', count: 3}\n")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "trails", "run", str(path), "--out", str(out)],
                            env={**os.environ, "FAKE_AGENT_RELEASE": str(release)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    replaced = False
    try:
        started = wait_until(lambda: len(log_entries(agent_log)) == 3 and log_entries(agent_log), timeout=120,
                             message="three sessions running on three nodes")
        assert len({e["node"] for e in started}) == 3
        victim = started[0]
        node = next(n for n in cluster.list_all_nodes() if n.node_id == victim["node"])
        cluster.remove_node(node, allow_graceful=False)
        cluster.add_node(num_cpus=1, object_store_memory=80 * MB)  # the other two nodes are busy (blocked)
        replaced = True
        # Ray notices the dead worker and runs the session again elsewhere (it blocks there too until released).
        wait_until(lambda: sum(e["session"] == victim["session"] for e in log_entries(agent_log)) == 2,
                   timeout=120, message="the lost session to start again on another node")
        release.touch()
        _, stderr = proc.communicate(timeout=180)
    finally:
        release.touch()
        if proc.poll() is None:
            proc.kill()
        if not replaced:
            cluster.add_node(num_cpus=1, object_store_memory=80 * MB)  # three nodes again for later tests
    assert proc.returncode == 0, stderr
    runs_of_victim = [e for e in log_entries(agent_log) if e["session"] == victim["session"]]
    assert len(runs_of_victim) == 2 and runs_of_victim[1]["node"] != victim["node"]
    result = json.loads((out / victim["session"] / "result.json").read_text())
    assert result["status"] == "ok"
    replicate = victim["session"][-1]
    assert git(out, f"--git-dir={out / '.shadow_git'}", "show", f"refs/tags/{victim['session']}:out.txt") == replicate


@contextlib.contextmanager
def pinned(tmp_path: Path, cluster: Any, resource: str, session: str) -> Iterator[tuple[Path, Any]]:
    """A run file whose sessions all run on one extra node (the only one with `resource`), and that node."""
    node = cluster.add_node(num_cpus=1, object_store_memory=80 * MB, resources={resource: 1})
    try:
        cluster.wait_for_nodes()
        path = tmp_path / "run.yaml"
        path.write_text(f"agent: {fake_agent_command()}\nwork_dir: ./wd\nray: {{address: '{cluster.address}'}}\n"
                        f"resources: {{num_cpus: 1, custom: {{{resource}: 1}}}}\nsessions:\n  - {session}\n")
        yield path, node
    finally:
        cluster.remove_node(node)


def test_a_later_session_on_a_worker_reuses_its_directory_reset_exactly_to_its_start(
        tmp_path: Path, cluster: Any, work_dir: Path, agent_log: Path) -> None:
    (work_dir / "keep.txt").write_text("keep\n")
    out = tmp_path / "out"
    # Both replicates run on the one node, one after the other.
    with pinned(tmp_path, cluster, "reuse", "{session_index: 1, count: 2, prompt: 'write added.txt $REPLICATE; "
                "write sub/deep/new.txt x; write README.md changed; rm keep.txt'}") as (path, node):
        res = trails("run", str(path), "--out", str(out), "--json", timeout=300)
        assert res.code == 0, res.stderr
    first, second = log_entries(agent_log)
    assert first["node"] == second["node"] == node.node_id
    assert first["cwd"] == second["cwd"]  # the second session reused the first one's work dir
    # ... and found exactly the baseline there: the added files gone, the changed and removed ones back.
    assert second["files"] == first["files"] == ["README.md", "keep.txt", "src/app.py"]
    assert second["contents"] == first["contents"]
    shadow = f"--git-dir={out / '.shadow_git'}"
    for label in ("session_01_r01", "session_01_r02"):
        names = git(out, shadow, "ls-tree", "-r", "--name-only", f"refs/tags/{label}").split()
        assert names == ["README.md", "added.txt", "src/app.py", "sub/deep/new.txt"], label
        result = json.loads((out / label / "result.json").read_text())
        assert result["status"] == "ok" and result["work_dir"] == f"ray:{node.node_id}:{first['cwd']}"
        assert sorted(f["path"] for f in result["files_changed"]) == ["README.md", "added.txt", "keep.txt",
                                                                       "sub/deep/new.txt"]
    assert git(out, shadow, "show", "refs/tags/session_01_r02:added.txt") == "2"


def test_a_later_run_on_a_node_reuses_its_directory_and_is_sent_only_the_objects_it_lacks(
        tmp_path: Path, cluster: Any, work_dir: Path, agent_log: Path) -> None:
    (work_dir / ".gitignore").write_text("build/\n")
    with pinned(tmp_path, cluster, "again",
                "{session_index: 1, prompt: 'write build/out.o ignored; write added.txt 1'}") as (path, _):
        first = trails("run", str(path), "--out", str(tmp_path / "out1"), timeout=300)
        assert first.code == 0, first.stderr
        baseline = git(tmp_path, f"--git-dir={tmp_path / 'out1' / '.shadow_git'}", "rev-list", "--objects",
                       "refs/tags/baseline").splitlines()
        # New to the node: its baseline travels (all of it, or what other runs over a "wd" left there lacks).
        assert f"of its {len(baseline)} objects the node lacked" in first.stderr, first.stderr
        (work_dir / "README.md").write_text("edited between the runs\n")
        second = trails("run", str(path), "--out", str(tmp_path / "out2"), timeout=300)
        assert second.code == 0, second.stderr
        # The node holds run 1's files: only the edited file's blob, its tree and the new commit travel.
        assert "the 3 of its 7 objects the node lacked" in second.stderr, second.stderr
        third = trails("run", str(path), "--out", str(tmp_path / "out3"), timeout=300)
        assert third.code == 0, third.stderr
        assert "objects the node lacked" not in third.stderr  # it holds this very tree: no objects at all
    runs = log_entries(agent_log)
    assert len(runs) == 3 and len({e["cwd"] for e in runs}) == 1  # one directory, kept across the runs
    # Each run found exactly its baseline there (run 1's ignored build/out.o is gone, README as edited).
    assert runs[0]["files"] == [".gitignore", "README.md", "src/app.py"]
    assert runs[1]["files"] == runs[2]["files"] == [".gitignore", "README.md", "added.txt", "src/app.py"]
    assert runs[1]["contents"]["README.md"] == runs[2]["contents"]["README.md"] == "edited between the runs\n"
    for out in ("out1", "out2", "out3"):
        shadow = f"--git-dir={tmp_path / out / '.shadow_git'}"
        assert git(tmp_path, shadow, "ls-tree", "-r", "--name-only", "refs/tags/session_01").split() == [
            ".gitignore", "README.md", "added.txt", "src/app.py"]


def test_a_ray_run_whose_driver_is_killed_resumes_as_a_local_run_does(
        tmp_path: Path, cluster: Any, work_dir: Path, agent_log: Path) -> None:
    release = tmp_path / "release"
    sessions = ("sessions:\n  - {session_index: 1, prompt: 'write one.txt 1'}\n"
                "  - {session_index: 2, prompt: 'write partial.txt half; block; write two.txt 2', count: 2}\n"
                "  - {session_index: 3, prompt: 'write three.txt 3'}\n")
    path = tmp_path / "run.yaml"
    path.write_text(f"agent: {fake_agent_command()}\nwork_dir: ./wd\nsession_mode: isolated\n{sessions}")
    out = tmp_path / "runs" / "ray"
    env = {**os.environ, "FAKE_AGENT_RELEASE": str(release)}
    proc = subprocess.Popen([sys.executable, "-m", "trails", "run", str(path), "--out", str(out), "--ray",
                             cluster.address], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: sum(e["session"].startswith("session_02") for e in log_entries(agent_log)) == 2,
                   timeout=120, message="both replicates of session 2 running on the cluster")
        # The driver is the run's process, which the trails server started for the command.
        os.kill(json.loads((out / "run.json").read_text())["driver"]["pid"], signal.SIGKILL)
        proc.wait(timeout=30)
        stranded = [e["pid"] for e in log_entries(agent_log)[1:]]
        listed = trails("runs", str(tmp_path / "runs"), "--json")
        assert listed.json[0]["status"] == "interrupted", listed.stdout
        # Without --ray: the run goes on on the cluster it ran on. Its agents the dead driver left are gone first.
        wait_until(lambda: not any(running(pid) for pid in stranded), timeout=60,
                   message="the killed run's agents to stop")
        release.touch()
        res = trails("run", "--resume-run", str(out), "--json", env=env, timeout=300)
    finally:
        release.touch()
        if proc.poll() is None:
            proc.kill()
    assert res.code == 0, res.stderr
    assert res.json["status"] == "completed" and res.json["resumed"] == 1
    assert res.json["backend"] == f"ray:{cluster.address}"
    labels = [e["session"] for e in log_entries(agent_log)]
    assert labels.count("session_01") == 1 and labels.count("session_02_r01") == labels.count("session_02_r02") == 2
    # The retried replicates start from session 1's files, nothing partial (picked by label: on the
    # cluster, session 3's start may be logged before the second retry's).
    retried = [e for e in log_entries(agent_log) if e["session"].startswith("session_02")][2:]
    for entry in retried:
        assert entry["files"] == ["README.md", "one.txt", "src/app.py"], (labels, entry)
    # ... and the run directory is the one an uninterrupted local run of the same file leaves.
    local = tmp_path / "local"
    (local / "wd" / "src").mkdir(parents=True)
    (local / "wd" / "README.md").write_text("hello\n")  # the work_dir fixture's files
    (local / "wd" / "src" / "app.py").write_text("print('app')\n")
    (local / "run.yaml").write_text(path.read_text())
    assert trails("run", str(local / "run.yaml"), "--out", str(local / "out"), env=env, timeout=120).code == 0
    assert shadow_state(out) == shadow_state(local / "out")
    assert (out / "full_diff.patch").read_text() == (local / "out" / "full_diff.patch").read_text()
