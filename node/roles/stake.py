"""How much a node stakes: what a bond needs, topped up within the node's stake cap."""

from __future__ import annotations

import logging

from node.metrics import NodeMetrics
from node.protocol.chain import Market

log = logging.getLogger(__name__)


class StakePolicy:
    def __init__(self, market: Market, metrics: NodeMetrics, *, cap_wei: int) -> None:
        self._market = market
        self._metrics = metrics
        self._cap_wei = cap_wei

    def ensure_free(self, needed: int, purpose: str, *, for_seats: bool = False) -> bool:
        """Stakes what is missing for a bond of ``needed`` wei, within the stake cap; False when the cap forbids.
        ``for_seats``: what a draw weighs instead (stake at risk beyond the bonds this node took itself: seats lock
        their bonds whether or not stake is free)."""
        stake = self._market.stake_of(self._market.signer.address)
        have = stake.seatable if for_seats else stake.free
        if have >= needed:
            return True
        # Locked and unbonding stake may overlap, so free can be clipped at zero: top up what is really missing.
        overlap = 0 if for_seats else max(0, stake.locked + stake.unbonding - stake.total)
        top_up = needed - have + overlap
        if stake.total + top_up > self._cap_wei:
            log.warning("stake cap reached", extra={"purpose": purpose, "needed": needed, "cap": self._cap_wei})
            return False
        self._market.stake(top_up)
        self._metrics.tx_sent.labels("stake").inc()
        log.info("staked", extra={"purpose": purpose, "amount_wei": top_up})
        return True
