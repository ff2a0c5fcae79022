"""Log lines (node.logs): key=value fields, and --log-file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from node.errors import ConfigError
from node.logs import add_log_file


def test_a_log_file_gets_every_line_as_stderr_does_in_the_same_format(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "node.log"  # its folder made
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        add_log_file(path)
        logging.getLogger("node.daemon").warning("node started", extra={"acts_on": "0 blocks", "task": 7})
    finally:
        for handler in root.handlers[len(before) :]:
            handler.close()
        root.handlers[:] = before
    [line] = path.read_text().splitlines()
    assert line.endswith('WARNING node.daemon node started acts_on="0 blocks" task=7')


def test_a_log_file_that_cannot_be_written_is_one_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"--log-file .*: cannot write there"):
        add_log_file(tmp_path / "file" / "node.log")  # a file where its folder should be
