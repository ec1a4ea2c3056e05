"""The built-in auto-yes guards' names, each with what it refuses (monitor/shellguard.py judges them)."""

from __future__ import annotations

from trails.core.config import UNSEEN_GUARD

RECURSIVE_DELETE = "recursive delete"
DELETE_OUTSIDE = "delete outside the session"
WRITE_OUTSIDE = "write outside the session"
GIT_HISTORY = "git history"
DOWNLOADED_CODE = "downloaded code"
PRIVILEGES = "privileges"
DEVICES = "devices and file systems"
DROP_DATABASE = "drop database"
UNSEEN = UNSEEN_GUARD

# The built-in guards, by name (what `auto_yes.guards` in the user's settings switches off with "").
BUILTIN: dict[str, str] = {
    RECURSIVE_DELETE: "deletes a directory tree (rm -r, find -delete without a filter, rsync --delete …)",
    DELETE_OUTSIDE: "deletes or moves away a file outside the session's directory",
    WRITE_OUTSIDE: "writes outside the session's directory (redirections, cp, mv, ln, tee, dd, install, …)",
    GIT_HISTORY: "rewrites or discards git history or work (push --force, reset --hard, clean -f, …)",
    DOWNLOADED_CODE: "runs code it downloads (curl … | sh, bash <(curl …), python3 -c \"$(curl …)\")",
    PRIVILEGES: "raises privileges (sudo, su, doas, pkexec, setuid bits)",
    DEVICES: "touches devices or file systems (dd of=/dev/…, mkfs, mount, fdisk, chmod -R /)",
    DROP_DATABASE: "drops databases or tables (DROP DATABASE/TABLE via psql, mysql, sqlite3 …)",
    UNSEEN: "cannot be judged without running something (eval, $CMD, bash -c \"$x\", a line that does not parse)",
}
