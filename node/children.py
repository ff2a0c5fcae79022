"""Child processes that never outlive the process that started them.

A command that starts helpers for its own lifetime (``dml demo``: Anvil, a store, nodes) stops them when it ends,
on Ctrl-C and on SIGTERM (``client.cli.main`` turns SIGTERM into an orderly exit, so ``finally`` blocks run). When
it dies without a chance to clean up (SIGKILL, a crash of the interpreter), Linux's parent-death signal stops them.
A child asks for it through a small launcher (``python -m node.children PARENT_PID CMD…``) that makes the request
and then becomes the command by ``exec`` (the request survives ``exec``): no ``preexec_fn``, which is unsafe in a
process with threads. Helpers meant to outlive the command (``dml devnet up``) are started without it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def tied_to_parent(cmd: list[str]) -> list[str]:
    """``cmd`` wrapped so that it receives SIGTERM when this process dies (unchanged off Linux)."""
    if not sys.platform.startswith("linux"):
        return cmd
    return [sys.executable, "-m", "node.children", str(os.getpid()), *cmd]


def stop_child(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """Stops a child: SIGTERM, then SIGKILL if it is still there after ``grace_s``; waits for it either way."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace_s)


def _launch(argv: list[str]) -> None:
    import ctypes

    parent, cmd = int(argv[0]), argv[1:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the request was made: nobody would signal us
        sys.exit(128 + signal.SIGTERM)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    _launch(sys.argv[1:])
