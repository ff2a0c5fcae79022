"""A SIGTERM whose exit was swallowed (raised inside a finalizer) still ends the command's waiting loop."""

from __future__ import annotations

import signal
import subprocess
import sys


def test_a_sigterm_lost_in_a_finalizer_still_ends_the_wait() -> None:
    code = """
import gc, os, signal, sys, time
from client import interrupt
interrupt.install()

class Finalized:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)  # handled here, inside __del__: its SystemExit is printed and dropped
        deadline = time.monotonic() + 10
        while not interrupt._received and time.monotonic() < deadline:
            pass  # the handler runs between two bytecodes of this loop

Finalized()
gc.collect()
print("carried on", flush=True)
interrupt.check()
print("not reached", flush=True)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 128 + signal.SIGTERM, result.stderr
    assert result.stdout.splitlines() == ["carried on"], "the exit was lost first (the case this guards against)"
    assert "terminated" in result.stderr
