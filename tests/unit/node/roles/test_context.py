from __future__ import annotations


def test_chain_clock_follows_the_chain_not_the_wall_clock() -> None:
    import time

    from node.roles.context import ChainClock

    clock = ChainClock()
    assert abs(clock.now() - time.time()) < 1
    clock.observe(10, int(time.time()) - 3600)  # a chain an hour behind (a reverted devnet)
    assert abs(clock.now() - (time.time() - 3600)) < 2
    clock.observe(10, int(time.time()))  # the same block seen again changes nothing
    assert clock.now() < time.time() - 3000
    clock.observe(11, int(time.time()) + 60)
    assert abs(clock.now() - (time.time() + 60)) < 2
