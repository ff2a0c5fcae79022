"""How deep a node's view is (node.chain.confirmations): the setting checked, chosen per chain, and the block read."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from node.chain.confirmations import DEFAULT_DEPTH, Confirmations, check_setting, choose
from node.chain.types import BlockHead


def _head(number: int) -> BlockHead:
    return BlockHead(number, 1000 + number, number.to_bytes(32, "big"))


def _reader(safe: int = 68) -> Callable[[int | str], BlockHead]:
    def read(at: int | str) -> BlockHead:
        return _head(safe if at == "safe" else 36 if at == "finalized" else int(at))

    return read


@pytest.mark.parametrize(("given", "kept"), [("auto", "auto"), ("SAFE", "safe"), ("finalized", "finalized"),
                                             ("0", "0"), ("012", "12"), (" 3 ", "3")])  # fmt: skip
def test_check_setting_accepts_auto_tags_and_block_counts(given: str, kept: str) -> None:
    assert check_setting(given) == kept


@pytest.mark.parametrize("given", ["-1", "latest", "pending", "1.5", "", "10001"])
def test_check_setting_refuses_anything_else_naming_the_value(given: str) -> None:
    with pytest.raises(ValueError, match="not auto, safe, finalized or a block count"):
        check_setting(given)


@pytest.mark.parametrize(
    ("client", "chain_id"),
    [("anvil/v1.7.1", 5), ("HardhatNetwork/3.0.0/@nomicfoundation/edr", 5), ("edr/0.22.0", 5),
     ("Ganache/v7.9.2/EthereumJS TestRPC/v7.9.2/ethereum-js", 5), ("Geth/v1.14", 31337), ("Geth/v1.14", 1337)],
)  # fmt: skip
def test_choose_auto_is_zero_on_a_local_devnet(client: str, chain_id: int) -> None:
    chosen = choose("auto", client_version=client, chain_id=chain_id, has_tag=lambda _: True)
    assert chosen == Confirmations(depth=0, why="local devnet")
    assert chosen.describe() == "0 blocks under the head (local devnet)"


def test_choose_auto_takes_the_safe_tag_where_the_chain_has_one_else_a_fixed_depth() -> None:
    tagged = choose("auto", client_version="Geth/v1.14.0", chain_id=1, has_tag=lambda tag: tag == "safe")
    assert (tagged.tag, tagged.why) == ("safe", "the chain's safe tag")
    untagged = choose("auto", client_version="bor/v1", chain_id=137, has_tag=lambda _: False)
    assert (untagged.tag, untagged.depth) == (None, DEFAULT_DEPTH)
    assert untagged.describe() == f"{DEFAULT_DEPTH} blocks under the head (no safe tag)"


def test_choose_keeps_what_was_given_even_on_a_devnet() -> None:
    assert choose("5", client_version="anvil/v1", chain_id=31337, has_tag=lambda _: True) == Confirmations(depth=5)
    assert choose("finalized", client_version="anvil", chain_id=31337, has_tag=lambda _: True).tag == "finalized"


def test_view_is_the_head_at_depth_zero_the_block_under_it_at_depth_n_and_never_above_the_head() -> None:
    read = _reader()
    assert Confirmations().view(read, _head(100)) == _head(100)
    assert Confirmations(depth=3).view(read, _head(100)) == _head(97)
    assert Confirmations(depth=3).view(read, _head(2)) == _head(0), "a young chain: its genesis"
    assert Confirmations(tag="safe").view(read, _head(100)) == _head(68)
    assert Confirmations(tag="finalized").view(read, _head(100)) == _head(36)
    # A tag read after the head moved on may be newer than the head read before it: the head is taken.
    assert Confirmations(tag="safe").view(_reader(safe=120), _head(100)) == _head(100)
