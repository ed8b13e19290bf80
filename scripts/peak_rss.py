#!/usr/bin/env python3
"""peak_rss.py OUT.json -- COMMAND [ARGS...]: runs COMMAND, then writes its wall time and peak
resident memory (the kernel's ru_maxrss of the child, read by wait4: exact, not sampled) to
OUT.json, and exits with the command's exit code. The workflow's jobs run under it when its
config says `measure=1` (`make bench-scale`)."""

import json
import os
import subprocess
import sys
import time

if len(sys.argv) < 4 or sys.argv[2] != "--":
    sys.exit(__doc__)
out, cmd = sys.argv[1], sys.argv[3:]
t = time.monotonic()
p = subprocess.Popen(cmd)
_, status, usage = os.wait4(p.pid, 0)
code = os.waitstatus_to_exitcode(status)
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump({"command": cmd, "seconds": time.monotonic() - t,
               "peak_rss_mib": usage.ru_maxrss / 1024.0, "exit": code}, f)
os.replace(tmp, out)
sys.exit(code if code >= 0 else 128 - code)
