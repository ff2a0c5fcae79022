"""How deep a node's view is, on real EVMs (node.chain.confirmations): each local devnet recognised by what it says
it is, and a view read at a depth or at the chain's own safe and finalized blocks."""

from __future__ import annotations

import pytest

from node.chain.confirmations import Confirmations, for_chain, is_local_devnet
from testkit.chain import Chain
from testkit.evms import EVMS

pytestmark = pytest.mark.chain


@pytest.mark.parametrize("chain", EVMS, indirect=True)
def test_every_local_devnet_is_recognised_by_its_client_version_and_acted_on_at_its_head(chain: Chain) -> None:
    """auto is 0 on a devnet: not only because of its chain id (the tests run every EVM at 31337), but because it
    says it is one (a devnet given another chain id is still recognised)."""
    assert is_local_devnet(chain.w3.client_version, chain_id=1), chain.w3.client_version
    chosen = for_chain(chain.w3, "auto")
    assert (chosen.depth, chosen.tag, chosen.why) == (0, None, "local devnet")
    market = chain.market()
    latest = market.latest()
    assert chosen.view(market.block, latest) == latest


def test_a_view_at_a_depth_or_at_anvils_safe_and_finalized_blocks_is_that_block(chain: Chain) -> None:
    chain.w3.provider.make_request("anvil_mine", [100])  # type: ignore[arg-type]
    market = chain.market()
    latest = market.latest()
    assert Confirmations(depth=5).view(market.block, latest) == market.block(latest.number - 5)
    safe = Confirmations(tag="safe").view(market.block, latest)
    finalized = Confirmations(tag="finalized").view(market.block, latest)
    assert finalized.number < safe.number < latest.number, "Anvil's safe and finalized blocks trail its head"
    assert safe == market.block(safe.number), "the tagged block itself, hash and time"
    assert for_chain(chain.w3, "finalized") == Confirmations(tag="finalized")
