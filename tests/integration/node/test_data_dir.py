"""A node's data dir belongs to one account: a second account on it is refused at start, naming the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.errors import ConfigError
from node.runner import build_services
from testkit.chain import Chain
from testkit.nodes import dev_settings

pytestmark = pytest.mark.chain


def test_a_second_account_on_one_data_dir_is_refused_and_the_first_keeps_it(chain: Chain, tmp_path: Path) -> None:
    deployment = tmp_path / "deployment.json"
    chain.deployment.write(deployment)

    def services(account: int):  # type: ignore[no-untyped-def]
        settings = dev_settings(
            chain.rpc_url, deployment, str(tmp_path / "store"), tmp_path / "node", account, ["verifier"]
        )
        return build_services(settings)[0]

    first = services(4)
    first.state.close()
    # Seen as a user: a miner and two verifiers started in one folder without --data-dir shared one state, and a
    # verifier revealed the other's vote (refused) until its own reveal deadline passed: it was slashed.
    with pytest.raises(ConfigError, match=r"holds the state of account .* give each node its own --data-dir"):
        services(5)
    again = services(4)  # the first account restarts on its own state
    assert again.state.get_meta("account") == chain.accounts[4].address
    again.state.close()
