"""Structured log lines: ``time level logger message key=value …`` with every ``extra`` field shown."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from node.errors import ConfigError

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={_value(v)}" for k, v in sorted(vars(record).items()) if k not in _STANDARD)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        line = f"{stamp} {record.levelname:<7} {record.name} {record.getMessage()}"
        if fields:
            line += " " + fields
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _value(v: object) -> str:
    text = str(v)
    return f'"{text}"' if " " in text else text


def configure_logging(level: int) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("urllib3", "web3", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def add_log_file(path: Path) -> None:
    """Writes every log line to ``path`` as well (appended; the folder made if missing): ``--log-file``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"--log-file {path}: cannot write there: {err.strerror or err}") from err
    handler.setFormatter(KeyValueFormatter())
    logging.getLogger().addHandler(handler)
