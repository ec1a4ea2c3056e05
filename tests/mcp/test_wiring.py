"""How each agent's launch is configured to start trails' MCP server (agents/*.py `AgentMcp`): the argv
and files it gets, the pinned Codex and Gemini CLIs reading that configuration, and the engine giving
it (or, with --no-mcp, the setting or TRAILS_MCP=off, not giving it) to a session's agent."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.claude_env import agent_bin
from tests.helpers import TrailsServer, as_user, wait_until
from trails.agents import claude, codex, gemini
from trails.agents.base import McpServer
from trails.api.client import Client
from trails.api.types import Create, Pause, Resume
from trails.core import mcpwire

SECRET = "s3cret-credential-value"


@pytest.fixture
def server(tmp_path: Path) -> McpServer:
    place = tmp_path / "home" / "mcp" / "s1"
    place.mkdir(parents=True)
    return McpServer(command=("/venv/bin/python", "-m", "trails", "mcp"),
                     env={"TRAILS_HOME": str(tmp_path / "home"), "PYTHONPATH": "/checkout/src"},
                     credential_env="TRAILS_MCP_TOKEN", credential=SECRET, private_dir=place)


def test_claude_gets_an_inline_config_and_the_servers_tools_allowed(server: McpServer) -> None:
    argv = claude.ClaudeMcp().wire(["claude", "fix the bug"], server, {})
    assert argv[0] == "claude" and argv[-1] == "fix the bug"  # the prompt is not taken for a config
    (config,) = [a.removeprefix("--mcp-config=") for a in argv if a.startswith("--mcp-config=")]
    assert json.loads(config) == {"mcpServers": {"trails": {
        "type": "stdio", "command": "/venv/bin/python", "args": ["-m", "trails", "mcp"],
        "env": {"TRAILS_HOME": server.env["TRAILS_HOME"], "PYTHONPATH": "/checkout/src"}}}}
    assert "--allowedTools=mcp__trails" in argv
    assert SECRET not in " ".join(argv)


def test_codex_gets_config_overrides_that_pass_the_credential_by_name(server: McpServer) -> None:
    env: dict[str, str] = {}
    argv = codex.CodexMcp().wire(["codex", "--model", "o3"], server, env)
    assert argv[-2:] == ["--model", "o3"] and env == {}
    overrides = [argv[i + 1] for i, a in enumerate(argv) if a == "-c"]
    assert 'mcp_servers.trails.env_vars=["TRAILS_MCP_TOKEN"]' in overrides
    assert 'mcp_servers.trails.default_tools_approval_mode="approve"' in overrides
    assert SECRET not in " ".join(argv)
    # A server of that name the user configured on the command line stands.
    own = ["codex", "-c", 'mcp_servers.trails.command="mine"']
    assert codex.CodexMcp().wire(own, server, {}) == own


def test_the_pinned_codex_reads_the_overrides(server: McpServer, tmp_path: Path) -> None:
    argv = codex.CodexMcp().wire([str(agent_bin("codex"))], server, {})
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    env = {**os.environ, "CODEX_HOME": str(codex_home)}
    out = subprocess.run([*argv, "mcp", "list", "--json"], capture_output=True, text=True, env=env, timeout=60,
                         check=True).stdout
    (listed,) = [s for s in json.loads(out) if s["name"] == "trails"]
    assert listed["enabled"] and listed["transport"] == {
        "type": "stdio", "command": "/venv/bin/python", "args": ["-m", "trails", "mcp"], "env": dict(server.env),
        "env_vars": ["TRAILS_MCP_TOKEN"], "cwd": None}


def _own_gemini(tmp_path: Path) -> Path:
    """A user's ~/.gemini: settings with a server of theirs, a login, trusted folders."""
    own = tmp_path / "user" / ".gemini"
    own.mkdir(parents=True)
    (own / "settings.json").write_text(json.dumps({"mcpServers": {"theirs": {"command": "their-server"}},
                                                   "ui": {"theme": "Dracula"}}))
    (own / "oauth_creds.json").write_text("{}")
    return own


def test_gemini_gets_a_home_of_its_own_with_the_users_settings_and_trails_server(server: McpServer,
                                                                              tmp_path: Path) -> None:
    own = _own_gemini(tmp_path)
    env = {"HOME": str(own.parent)}
    assert gemini.GeminiMcp().wire(["gemini"], server, env) == ["gemini"]  # nothing on its command line
    home = Path(env["GEMINI_CLI_HOME"])
    assert home.is_relative_to(server.private_dir)
    settings_file = home / ".gemini" / "settings.json"
    assert stat.S_IMODE(settings_file.stat().st_mode) == 0o600 and stat.S_IMODE(home.stat().st_mode) == 0o700
    settings = json.loads(settings_file.read_text())
    assert settings["ui"] == {"theme": "Dracula"} and settings["mcpServers"]["theirs"] == {"command": "their-server"}
    assert settings["mcpServers"]["trails"] == {
        "command": "/venv/bin/python", "args": ["-m", "trails", "mcp"], "trust": True,
        "env": {"TRAILS_HOME": server.env["TRAILS_HOME"], "TRAILS_MCP_TOKEN": SECRET}}
    # The rest is the user's own: what Gemini writes there (a login, a trusted folder) lands in ~/.gemini.
    assert (home / ".gemini" / "oauth_creds.json").resolve() == own / "oauth_creds.json"
    (home / ".gemini" / "trustedFolders.json").write_text("{}")
    assert (own / "trustedFolders.json").exists()
    assert json.loads((own / "settings.json").read_text())["mcpServers"].keys() == {"theirs"}  # never written


def test_gemini_in_a_container_gets_trails_server_in_the_containers_own_home(server: McpServer,
                                                                           tmp_path: Path) -> None:
    """The container's home (mounted as its HOME) gets the user's settings with the relay added and a
    copy of their login, once; a later launch keeps what Gemini wrote there and has the new credential."""
    from dataclasses import replace

    from trails.agents.base import AgentHome

    own = _own_gemini(tmp_path)
    box = tmp_path / "container-home"
    box.mkdir(mode=0o700)
    relay = ("/usr/bin/python3", "-I", "-S", "/run/trails/mcp_relay.py", "/run/trails/mcp.sock")
    inside = replace(server, command=relay, env={}, agent_home=AgentHome(box, "/home/agent"))
    env = {"HOME": str(own.parent), "GEMINI_CLI_HOME": str(own.parent)}
    assert gemini.GeminiMcp().wire(["gemini"], inside, env) == ["gemini"]
    assert env["GEMINI_CLI_HOME"] == "/home/agent"  # the user's own is a host path, nothing inside
    settings_file = box / ".gemini" / "settings.json"
    assert stat.S_IMODE(settings_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((box / ".gemini").stat().st_mode) == 0o700
    settings = json.loads(settings_file.read_text())
    assert settings["ui"] == {"theme": "Dracula"} and settings["mcpServers"]["theirs"] == {"command": "their-server"}
    assert settings["mcpServers"]["trails"] == {"command": relay[0], "args": list(relay[1:]), "trust": True,
                                                "env": {"TRAILS_MCP_TOKEN": SECRET}}
    login = box / ".gemini" / "oauth_creds.json"
    assert login.is_file() and not login.is_symlink()  # a link would lead nowhere inside
    assert not any(server.private_dir.iterdir())  # nothing of it under the trails home, unseen inside
    # What Gemini keeps in its container home stays; the next launch's credential replaces the last.
    settings["ui"] = {"theme": "Atom One"}
    settings_file.write_text(json.dumps(settings))
    gemini.GeminiMcp().wire(["gemini"], replace(inside, credential="the-next-one"), dict(env))
    again = json.loads(settings_file.read_text())
    assert again["ui"] == {"theme": "Atom One"} and again["mcpServers"]["trails"]["env"] == {
        "TRAILS_MCP_TOKEN": "the-next-one"}
    assert json.loads((own / "settings.json").read_text())["mcpServers"].keys() == {"theirs"}  # never written


def test_the_pinned_gemini_lists_the_trails_server(server: McpServer, tmp_path: Path) -> None:
    own = _own_gemini(tmp_path)
    env = {**os.environ, "HOME": str(own.parent)}
    env.pop("GEMINI_CLI_HOME", None)
    agent_env = dict(env)
    argv = gemini.GeminiMcp().wire([str(agent_bin("gemini"))], server, agent_env)
    work = tmp_path / "work"
    work.mkdir()
    out = subprocess.run([*argv, "mcp", "list"], capture_output=True, text=True, env=agent_env, cwd=work,
                         timeout=60)
    text = out.stdout + out.stderr
    assert "trails" in text and "theirs" in text, text
    assert "Skipping" not in text, text


@pytest.fixture
def recording_claude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TrailsServer, Path]]:
    """This home's server, and an agent called `claude` that writes down its argv and environment."""
    monkeypatch.setenv("TRAILS_HOOKS", "off")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    agent = bindir / "claude"
    agent.write_text("#!/bin/sh\n"
                     "{ printf '%s\\0' \"$@\"; printf '\\1'; env -0; } > \"$SEEN.tmp\"\n"
                     "mv \"$SEEN.tmp\" \"$SEEN\"\nexec sleep 600\n")
    agent.chmod(0o755)
    server = TrailsServer(Path(os.environ["TRAILS_HOME"]))
    server.start()
    yield server, agent
    server.stop()


def _launch(recording: tuple[TrailsServer, Path], repo: Path, tmp_path: Path, name: str,
            caller_env: dict[str, str] | None = None, **options: Any) -> tuple[list[str], dict[str, str]]:
    """Start session `name` of the recording agent (`caller_env` over the caller's environment): the
    argv and environment its agent got."""
    _, agent = recording
    seen = tmp_path / f"{name}.seen"
    caller = as_user(repo)
    caller.env.update(caller_env or {})
    client = Client(Path(os.environ["TRAILS_HOME"]), caller=caller, local=False)
    client.call(Create(name=name, agent=str(agent), mode="direct", cwd=str(repo), env={"SEEN": str(seen)}, **options))
    wait_until(seen.exists, timeout=20, message=f"{name}'s agent to start")
    args, _, environ = seen.read_bytes().partition(b"\1")
    env = dict(v.split("=", 1) for v in environ.decode().split("\0") if "=" in v)
    return args.decode().split("\0")[:-1], env


def test_a_sessions_agent_is_configured_with_its_own_credential(recording_claude: tuple[TrailsServer, Path],
                                                               repo: Path, tmp_path: Path) -> None:
    args, env = _launch(recording_claude, repo, tmp_path, "on")
    credential = env["TRAILS_MCP_TOKEN"]
    (config,) = [json.loads(a.removeprefix("--mcp-config=")) for a in args if a.startswith("--mcp-config=")]
    entry = config["mcpServers"]["trails"]
    home = Path(os.environ["TRAILS_HOME"])
    assert entry["env"]["TRAILS_HOME"] == str(home) and entry["args"] == ["-m", "trails", "mcp"]
    assert Path(entry["command"]).exists() and credential not in json.dumps(args)
    assert "--allowedTools=mcp__trails" in args


@pytest.mark.parametrize("how", ["flag", "setting", "env"])
def test_mcp_turned_off_gives_no_config_and_no_credential(recording_claude: tuple[TrailsServer, Path], repo: Path,
                                                          tmp_path: Path, how: str) -> None:
    home = Path(os.environ["TRAILS_HOME"])
    options: dict[str, Any] = {}
    if how == "flag":
        options["no_mcp"] = True
    elif how == "setting":
        (home / "settings.json").write_text(json.dumps({"mcp": False}))
    else:
        options["caller_env"] = {mcpwire.SWITCH_ENV: "off"}
    args, env = _launch(recording_claude, repo, tmp_path, f"off-{how}", **options)
    assert not any(a.startswith(("--mcp-config", "--allowedTools")) for a in args), args
    assert mcpwire.TOKEN_ENV not in env


def test_a_session_created_without_mcp_is_resumed_without_it(recording_claude: tuple[TrailsServer, Path],
                                                            repo: Path, tmp_path: Path) -> None:
    _launch(recording_claude, repo, tmp_path, "quiet", no_mcp=True)
    seen = tmp_path / "quiet.seen"
    seen.unlink()
    client = Client(Path(os.environ["TRAILS_HOME"]), caller=as_user(repo), local=False)
    client.call(Pause(name="quiet"))
    client.call(Resume(name="quiet"))
    wait_until(seen.exists, timeout=20, message="the agent to start again")
    args, _, environ = seen.read_bytes().partition(b"\1")
    assert b"--mcp-config" not in args and b"TRAILS_MCP_TOKEN=" not in environ


@pytest.mark.parametrize("agent", ["claude", "codex", "gemini"])
def test_a_container_sessions_agent_is_given_the_relay_in_the_mounted_hook_directory(engine: Any, agent: str) -> None:
    """Inside, trails' MCP server is the relay to the MCP socket (tests/mcp/test_container_relay.py),
    never this installation's `trails mcp` or anything else under the home, which the container does
    not see; Gemini's settings go to the container's own home, which is its HOME inside."""
    from trails.core.models import Mode, Session, Status

    session = Session(id=0, name="c1", agent=agent, command=[agent], mode=Mode.CONTAINER, status=Status.CREATING,
                      workdir="/w", repo_root=None, worktree_path=None, branch=None, base_commit=None,
                      tmux_session="trails-c1", extra={"agent_profile": agent})
    env: dict[str, str] = {}
    argv = engine._wire_mcp(engine.provider(Mode.CONTAINER), session, [agent], env, {})
    token = env[mcpwire.TOKEN_ENV]
    assert token and session.extra[mcpwire.TOKEN_KEY] == mcpwire.digest(token)
    relay = mcpwire.container_relay()
    assert relay[2:] == ("-S", "/run/trails/mcp_relay.py", "/run/trails/mcp.sock")
    assert token not in " ".join(argv) and str(engine.home) not in " ".join(argv), argv
    if agent == "claude":
        (config,) = [a.removeprefix("--mcp-config=") for a in argv if a.startswith("--mcp-config=")]
        assert json.loads(config)["mcpServers"]["trails"] == {"type": "stdio", "command": relay[0],
                                                               "args": list(relay[1:]), "env": {}}
    elif agent == "codex":
        assert f"mcp_servers.trails.command={json.dumps(relay[0])}" in argv
        assert f"mcp_servers.trails.args={json.dumps(list(relay[1:]))}" in argv
        assert 'mcp_servers.trails.env_vars=["TRAILS_MCP_TOKEN"]' in argv
    else:
        assert argv == ["gemini"] and env["GEMINI_CLI_HOME"] == "/home/agent"
        settings = engine.provider(Mode.CONTAINER).agent_home("c1") / ".gemini" / "settings.json"
        assert json.loads(settings.read_text())["mcpServers"]["trails"] == {
            "command": relay[0], "args": list(relay[1:]), "env": {mcpwire.TOKEN_ENV: token}, "trust": True}
        assert not (engine.home / "mcp" / "c1" / "gemini-home").exists()
