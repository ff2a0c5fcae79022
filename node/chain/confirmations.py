"""How final a block must be before a node acts on what it holds (``--confirmations``).

A node reads the chain's state and events at its *view*: the block ``depth`` blocks under the head, or the block
the chain itself calls ``safe`` or ``finalized`` (the tags a proof-of-stake chain answers). What a shallower
reorganisation replaces was never acted on: a verifier does not re-execute a submission that may vanish, a miner
does not claim on a task whose creation may be undone. Its own transactions are followed at the head all the same
(the signer's reconciliation, the ballots' follow-up): what it sent is never lost for being too fresh to be seen.

``auto`` (the default) is 0 on a local devnet (Anvil, Hardhat, Ganache, or a devnet chain id: nothing else
mines there, a reorganisation is a test's), the chain's ``safe`` block where it answers that tag, and
:data:`DEFAULT_DEPTH` blocks elsewhere. A transaction is still simulated against the head before it is sent, so
acting on a view older than the head costs a lost race now and then, never a wrong transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from web3 import Web3
from web3.exceptions import BlockNotFound, Web3RPCError

from node.chain.rpc import with_retries
from node.chain.types import BlockHead

AUTO = "auto"
TAGS = ("safe", "finalized")
# Blocks under the head on a chain that has no safe tag: what exchanges and keepers waited for on proof of work.
DEFAULT_DEPTH = 12
MAX_DEPTH = 10_000
# web3_clientVersion prefixes (lower case) of the local devnets: Anvil, Hardhat's EDR node, Ganache.
LOCAL_CLIENTS = ("anvil", "hardhat", "edr", "ganache", "ethereumjs testrpc")
LOCAL_CHAIN_IDS = frozenset({31337, 1337})


@dataclass(frozen=True, slots=True)
class Confirmations:
    """The view a node acts on: ``tag`` (``safe``/``finalized``) when set, else ``depth`` blocks under the head."""

    depth: int = 0
    tag: str | None = None
    why: str = "given"  # how it was chosen: "given", "local devnet", "the chain's safe tag", "no safe tag"

    def describe(self) -> str:
        what = f"the chain's {self.tag} block" if self.tag else f"{self.depth} blocks under the head"
        return what if self.why == "given" else f"{what} ({self.why})"

    def view(self, read: Callable[[int | str], BlockHead], latest: BlockHead) -> BlockHead:
        """The block to act on, given the head ``latest`` and a reader of blocks by number or tag. Never above the
        head (a tag read a moment after the head may be newer than it)."""
        if self.tag is not None:
            found = read(self.tag)
            return found if found.number <= latest.number else latest
        if self.depth == 0 or latest.number == 0:
            return latest
        return read(max(0, latest.number - self.depth))


def check_setting(value: str) -> str:
    """``auto``, ``safe``, ``finalized`` or a block count 0..MAX_DEPTH; raises ValueError naming what is wrong."""
    text = value.strip().lower()
    if text == AUTO or text in TAGS:
        return text
    if text.isdigit() and int(text) <= MAX_DEPTH:
        return str(int(text))
    raise ValueError(f"{value!r} is not auto, safe, finalized or a block count 0..{MAX_DEPTH}")


def is_local_devnet(client_version: str, chain_id: int) -> bool:
    return chain_id in LOCAL_CHAIN_IDS or client_version.strip().lower().startswith(LOCAL_CLIENTS)


def choose(setting: str, *, client_version: str, chain_id: int, has_tag: Callable[[str], bool]) -> Confirmations:
    """The confirmations a node uses for ``setting`` (checked by :func:`check_setting`) on this chain."""
    text = check_setting(setting)
    if text in TAGS:
        return Confirmations(tag=text)
    if text != AUTO:
        return Confirmations(depth=int(text))
    if is_local_devnet(client_version, chain_id):
        return Confirmations(depth=0, why="local devnet")
    if has_tag("safe"):
        return Confirmations(tag="safe", why="the chain's safe tag")
    return Confirmations(depth=DEFAULT_DEPTH, why="no safe tag")


def for_chain(w3: Web3, setting: str) -> Confirmations:
    """:func:`choose` for the chain ``w3`` is connected to (two or three requests, at a node's start)."""
    chain_id = int(with_retries(lambda: w3.eth.chain_id, what="chain_id"))
    try:
        client_version = str(with_retries(lambda: w3.client_version, what="web3_clientVersion"))
    except Web3RPCError:  # a provider that does not say what it is: judged by its chain id and tags
        client_version = ""

    def has_tag(tag: str) -> bool:
        try:
            w3.eth.get_block(tag)  # type: ignore[arg-type]  # "safe" and "finalized" are block identifiers
        except (Web3RPCError, ValueError, BlockNotFound):
            return False  # a chain without proof-of-stake finality refuses the tag or has no such block yet
        return True

    return choose(setting, client_version=client_version, chain_id=chain_id, has_tag=has_tag)
