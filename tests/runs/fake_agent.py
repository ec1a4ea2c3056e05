"""A tiny command agent for run tests. The prompt is a list of `;`-separated actions:

    write PATH TEXT   write TEXT to PATH (relative to the working directory)
    rm PATH           delete PATH
    sleep SECONDS     wait (as a real agent waits on its model)
    block             wait until the file named by $FAKE_AGENT_RELEASE exists
    fail              exit with status 3

Every start is appended to $FAKE_AGENT_LOG as one JSON line (session, prompt, files seen at start).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main() -> int:
    prompt = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read()
    cwd = Path.cwd()
    files = sorted(str(p.relative_to(cwd)) for p in cwd.rglob("*") if p.is_file() and ".git" not in p.parts)
    log = os.environ.get("FAKE_AGENT_LOG")
    entry = {"session": os.environ.get("TRAILS_RUN_SESSION"), "prompt": prompt, "cwd": str(cwd), "files": files,
             "node": os.environ.get("TRAILS_RAY_NODE"), "pid": os.getpid(),
             "contents": {f: (cwd / f).read_text(errors="replace") for f in files}}
    if log:
        with open(log, "a") as fh:
            fh.write(json.dumps(entry) + "\n")
    for action in filter(None, (a.strip() for a in prompt.split(";"))):
        verb, _, rest = action.partition(" ")
        if verb == "write":
            path, _, text = rest.partition(" ")
            target = cwd / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text.replace("$REPLICATE", os.environ.get("TRAILS_RUN_REPLICATE", "")) + "\n")
        elif verb == "rm":
            (cwd / rest).unlink()
        elif verb == "sleep":
            time.sleep(float(rest))
        elif verb == "block":
            release = Path(os.environ["FAKE_AGENT_RELEASE"])
            while not release.exists():
                time.sleep(0.05)
        elif verb == "fail":
            print("failing as asked", file=sys.stderr)
            return 3
    print(f"done: {prompt}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
