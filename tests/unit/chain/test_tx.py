from __future__ import annotations

import pytest
from web3.exceptions import ContractLogicError

from node.chain.tx import revert_data

REVERT = "0x5f1bd59e" + "00" * 31 + "01" + "00" * 31 + "02"


@pytest.mark.parametrize(
    "data",
    [
        REVERT,  # Anvil, Hardhat: the revert data itself
        {"data": REVERT},  # nodes that nest it
        # Ganache 7's eth_estimateGas: the data under "result", beside its program counter
        {"hash": None, "programCounter": 1090, "result": REVERT, "reason": None, "message": "revert"},
    ],
    ids=["plain", "nested", "ganache"],
)
def test_revert_data_is_found_in_every_shape_nodes_answer_with(data: object) -> None:
    assert revert_data(ContractLogicError("execution reverted", data=data)) == REVERT  # type: ignore[arg-type]


def test_revert_data_is_empty_when_the_answer_holds_none() -> None:
    assert revert_data(ContractLogicError("execution reverted", data={"message": "revert"})) == ""  # type: ignore[arg-type]
