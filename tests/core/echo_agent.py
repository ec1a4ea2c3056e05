"""A tiny interactive agent for tests: prints a prompt, echoes each line, logs lines to $ECHO_LOG."""

import os
import sys

log = os.environ.get("ECHO_LOG")
print(f"echo-agent ready in {os.getcwd()} session={os.environ.get('TRAILS_SESSION')} foo={os.environ.get('FOO')}")
while True:
    sys.stdout.write("> ")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line or line.strip() == "exit":
        sys.exit(int(os.environ.get("ECHO_EXIT", "0")))
    print(f"got: {line.strip()}")
    if log:
        with open(log, "a") as fh:
            fh.write(line)
