from __future__ import annotations


def test_earnings_of_counts_refunds_apart_from_rewards() -> None:
    from client.earnings import TaskEarnings, earnings_of
    from node.chain.events import ChainEvent

    me, other = "0xAbC0000000000000000000000000000000000001", "0x0000000000000000000000000000000000000002"

    def ev(name: str, **args: object) -> ChainEvent:
        return ChainEvent(name, args, 1, 0, "0x")

    events = [
        ev("StakeDeposited", account=me, amount=100, total=100),
        ev("Credited", account=me.lower(), taskId=1, amount=7),
        ev("Credited", account=other, taskId=1, amount=1000),
        ev("StakeSlashed", account=me, taskId=2, round=0, index=1, amount=5, unbonding=0),
        ev("EscrowRefunded", taskId=3, owner=me, amount=40),
        ev("Credited", account=me, taskId=3, amount=40),
        ev("StakeReleased", account=me, amount=20),
        ev("Withdrawn", account=me, amount=30),
    ]
    books = earnings_of(me, events)
    assert books.by_task == {1: TaskEarnings(earned=7), 2: TaskEarnings(slashed=5), 3: TaskEarnings(refunded=40)}
    assert (books.earned, books.slashed, books.refunded, books.staked, books.released, books.withdrawn) == (
        7, 5, 40, 100, 20, 30,
    )  # fmt: skip
    assert books.credit == 7 + 40 + 20 - 30
