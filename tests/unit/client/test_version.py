from __future__ import annotations

from importlib.metadata import version

from typer.testing import CliRunner

from client.cli import app


def test_dml_version_prints_the_package_version_and_exits_zero() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"dml {version('dmlnet')} (Python 3.")
