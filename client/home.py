"""Where the CLI keeps its local state: ``$DMLNET_HOME`` or ``./.dmlnet``."""

from __future__ import annotations

import os
from pathlib import Path


def home(override: Path | None = None) -> Path:
    if override is not None:
        return override
    return Path(os.environ.get("DMLNET_HOME", ".dmlnet")).resolve()


def devnet_dir(base: Path) -> Path:
    return base / "devnet"


def deployment_file(base: Path) -> Path:
    return devnet_dir(base) / "deployment.json"


def devnet_file(base: Path) -> Path:
    return devnet_dir(base) / "devnet.json"
