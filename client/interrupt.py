"""SIGTERM ends a command the way Ctrl-C does: ``finally`` blocks run and stop what the command started.

(``dml node run`` installs its own handlers: a daemon finishes its cycle first.) A second SIGTERM kills.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

_received: list[int] = []  # the signal, once received (a list: set from the handler without a global)


def install() -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    _received.append(signum)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    print("terminated", file=sys.stderr)
    raise SystemExit(128 + signum)


def check() -> None:
    """For a command's waiting loops. The exit the handler raises can be lost: raised while a finalizer runs
    (a ``__del__``, a weakref callback), it is printed and dropped, and the command would carry on. The flag
    is not lost."""
    if _received:
        raise SystemExit(128 + _received[0])


def confirm(question: str, *, yes: bool) -> None:
    """Asks ``question`` at a terminal (``yes``: already answered); a "no" aborts. Without a terminal there is nobody
    to ask: refused in one line naming ``--yes`` (exit 2), before anything is sent."""
    import typer

    from node.errors import ConfigError

    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError(f"{question.rstrip('?')}: not at a terminal, nobody can answer; pass --yes")
    if not typer.confirm(question):
        raise typer.Abort()
