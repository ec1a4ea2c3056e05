"""The dashboard stays a front end: the core never imports Textual, and `trails` alone opens it only on a TTY."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import trails

FRONT_ENDS = ("textual", "rich", "trails.ui")


def test_core_imports_no_front_end_library() -> None:
    code = (
        "import sys\n"
        "import trails.core.engine, trails.core.merge, trails.core.moves\n"
        "from trails.core.engine import Engine\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FRONT_ENDS[:2]!r} or m.startswith('trails.ui'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"the core imported front-end modules: {out}"


def test_cli_commands_do_not_load_textual() -> None:
    code = "import sys\nfrom trails.ui.cli import main\nmain(['ls'])\nprint('textual' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")


def test_bare_trails_prints_help_when_not_on_a_terminal() -> None:
    res = trails()
    assert res.code == 0 and "usage: trails" in res.stdout and "tui" in res.stdout


def test_tui_command_is_registered() -> None:
    res = trails("tui", "--help")
    assert res.code == 0 and "dashboard" in res.stdout
