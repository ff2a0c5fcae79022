"""A node's Prometheus metrics, in a registry of its own (several nodes may share a test process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class NodeMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.units_claimed = Counter("dml_units_claimed", "Units claimed", registry=r)
        self.units_submitted = Counter("dml_units_submitted", "Results submitted", registry=r)
        self.units_accepted = Counter("dml_units_accepted", "Own results accepted", registry=r)
        self.units_rejected = Counter("dml_units_rejected", "Own results rejected", registry=r)
        self.claim_races_lost = Counter("dml_claim_races_lost", "Claims another miner won first", registry=r)
        self.votes_committed = Counter("dml_votes_committed", "Votes committed", ["vote"], registry=r)
        self.votes_revealed = Counter("dml_votes_revealed", "Votes revealed", registry=r)
        self.quorum_draws = Counter("dml_quorum_draws", "Quorums drawn (a batch of draws counts each unit)", registry=r)
        self.seats = Counter("dml_seats", "Quorum seats this verifier was drawn into", registry=r)
        self.stayed_out = Counter(
            "dml_stayed_out", "Quorums this verifier was not drawn into, by level", ["level"], registry=r
        )
        self.watched = Counter("dml_watched", "Decided verdicts re-checked by this watcher", ["agreed"], registry=r)
        self.challenges = Counter("dml_challenges", "Verdicts this node challenged", registry=r)
        self.verification_seconds = Histogram(
            "dml_verification_seconds",
            "CPU seconds per verification",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30),
            registry=r,
        )
        self.training_seconds = Counter("dml_training_seconds", "Wall seconds spent training units", registry=r)
        self.tx_sent = Counter("dml_tx_sent", "Transactions mined", ["call"], registry=r)
        self.tx_failed = Counter("dml_tx_failed", "Transactions refused or reverted", ["call"], registry=r)
        self.earned_wei = Counter("dml_earned_wei", "Rewards credited to this node", registry=r)
        self.slashed_wei = Counter("dml_slashed_wei", "Stake slashed from this node", registry=r)
        self.withdrawn_wei = Counter("dml_withdrawn_wei", "Credit withdrawn", registry=r)
        self.keeper_actions = Counter("dml_keeper_actions", "Finalizations and reclaims sent", ["action"], registry=r)
        self.cycle_errors = Counter("dml_cycle_errors", "Daemon cycles that failed and were retried", registry=r)
        self.last_block = Gauge("dml_last_block", "Last block the node processed", registry=r)
        self.view_block = Gauge(
            "dml_view_block", "Block the node's roles acted on (under the head with --confirmations)", registry=r
        )
        self.reorgs_seen = Counter(
            "dml_reorgs_seen", "Cycles that found the block under the event cursor replaced", registry=r
        )
        self.rpc_requests = Gauge(
            "dml_rpc_requests", "HTTP requests sent to the RPC endpoint since the node started", registry=r
        )
        self.store_failovers = Gauge(
            "dml_store_failovers", "Reads served by a replica other than the first", registry=r
        )
