"""A tiny worker agent for the coordinator's tests: `write PATH TEXT` writes PATH and commits it."""

import subprocess
import sys
from pathlib import Path

print("worker ready")
while True:
    sys.stdout.write("> ")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line or line.strip() == "exit":
        sys.exit(0)
    words = line.split(maxsplit=2)
    if len(words) == 3 and words[0] == "write":
        Path(words[1]).write_text(words[2].strip() + "\n")
        subprocess.run(["git", "add", words[1]], check=True)
        subprocess.run(["git", "commit", "-q", "-m", f"write {words[1]}"], check=True)
        print(f"wrote {words[1]}")
    else:
        print(f"got: {line.strip()}")
