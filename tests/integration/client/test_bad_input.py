"""Every command's bad input: one line on stderr, the exit code of its failure class, and nothing written to the
store or the chain (issue: "bad input is refused before anything is uploaded or sent")."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from client.cli import main
from node.store.cid import cid_of
from testkit.chain import Chain
from testkit.servers import store_server
from tests.integration.client.test_task_cli import flags

pytestmark = pytest.mark.chain

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SIGNED = ["--dev-account", "1"]

# (arguments, exit code, a piece of the one-line message). {dir} is a folder of bad files made for the test.
CASES: list[tuple[list[str], int, str]] = [
    (["data", "add", "{dir}/objects.npz"], 41, "object arrays"),
    (["data", "add", "{dir}/missing.csv"], 2, "no such file"),
    (["data", "add", "synthetic:abc"], 2, "synthetic:N takes a whole number"),
    (["data", "add", "{dir}/model.pt"], 2, "unknown dataset"),
    (["stake", "100000", *SIGNED], 4, "not enough for stake"),
    (["stake", *SIGNED, "--", "-1"], 2, "negative"),
    (["stake", "1.0000000000000000001", *SIGNED], 2, "whole number of wei"),
    (["stake", *SIGNED], 2, "Missing argument 'amount'"),
    (["unstake", "abc", *SIGNED], 2, "is not an amount"),
    (["task", "submit", "--miner-reward", "-1", "--yes", *SIGNED], 2, "--miner-reward: -1 is negative"),
    (["task", "submit", "--miner-reward", "1000000", "--yes", *SIGNED], 4, "the budget needs"),
    (["task", "submit", "--units", "0", "--yes", *SIGNED], 40, "--units 0: invalid the built-in spec: dataset.shards"),
    (["task", "submit", "--local-steps", "0", "--yes", *SIGNED], 40, "--local-steps 0: invalid the built-in spec"),
    (["task", "submit", "--quorum", "2", "--yes", *SIGNED], 2, "must be odd"),
    (["task", "submit", *SIGNED], 2, "not at a terminal, nobody can answer; pass --yes"),
    (["unstake", "5", *SIGNED], 2, "at most 0.000000 ETH can start"),
    (["task", "submit", "--quorum", "0", "--yes", *SIGNED], 2, "'--quorum': Input should be greater than or"),
    (["task", "submit", "--quorum", "17", "--yes", *SIGNED], 2, "'--quorum': Input should be less than or equal to 15"),
    (["task", "submit", "--rounds", "0", "--yes", *SIGNED], 2, "'--rounds': Input should be greater than or"),
    (["task", "submit", "--challenge-window", "-1", "--yes", *SIGNED], 2, "'--challenge-window'"),
    (["task", "submit", "--vote-bond", "0.001", "--yes", *SIGNED], 2, "4 × --verifier-reward"),
    (["task", "submit", "--spec", "{dir}/missing.json", "--yes", *SIGNED], 2, "cannot read the spec"),
    (["task", "submit", "--spec", "{dir}/bad.yaml", "--yes", *SIGNED], 40, "training.batch_size"),
    (["task", "submit", "--spec", str(EXAMPLES / "synthetic-mlp.json"), "--units", "4", "--yes", *SIGNED], 2,
     "conflicts with the spec's dataset.shards = 2"),
    (["task", "submit", "--dataset", cid_of(b"nowhere"), "--yes", *SIGNED], 2, "is not in the store"),
    (["task", "submit", "--dataset", "{dir}/objects.npz", "--yes", *SIGNED], 41, "object arrays"),
    (["task", "submit", "--initial-model", "{dir}/model.pt", "--yes", *SIGNED], 41, "refused a Python pickle"),
    (["task", "submit", "--initial-model", "{dir}/wrong.safetensors", "--yes", *SIGNED], 42, "tensor names differ"),
    (["task", "submit", "--initial-model", "{dir}/none.safetensors", "--yes", *SIGNED], 2, "no such file"),
    (["model", "eval", "{dir}/wrong.safetensors"], 2, "needs --spec"),
    (["model", "eval", "99"], 3, "no task 99"),
    (["task", "show", "99"], 3, "no task 99"),
    (["task", "show", "x"], 2, "Invalid value for 'task_id'"),
    (["task", "download", "99", "--out", "{dir}/model.safetensors"], 3, "no task 99"),
    (["task", "challenge", "99", "1", "0", "--yes", *SIGNED], 3, "no task 99"),
    (["node", "run", "--roles", "miner", "--confirmations", "banana", *SIGNED], 2,
     "invalid node configuration: confirmations: 'banana' is not auto, safe, finalized or a block count"),
    (["node", "run", "--roles", "miner", "--log-file", "{dir}/model.pt/node.log", *SIGNED], 2,
     "model.pt/node.log: cannot write there"),
    (["node", "run", "--roles", "miner", "--stake-cap", "abc", *SIGNED], 2, "--stake-cap: 'abc' is not an amount"),
    (["task", "cancel", "1", *SIGNED], 3, "no task 1"),
    (["node", "run", "--roles", "miner", "--keystore", "{dir}/empty-key.json", "--password-file", "{dir}/password",
      "--data-dir", "{dir}/node"], 4, "holds 0 ETH: it cannot pay gas"),
    (["node", "run", "--roles", "miner", "--deployment-from", cid_of(b"nowhere"), *SIGNED], 13,
     "not a CID the stores hold"),
    (["explorer", "--confirmations", "banana"], 2, "--confirmations: 'banana' is not auto, safe, finalized"),
    (["nosuch"], 2, "No such command"),
]  # fmt: skip


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad")
    np.savez(folder / "objects.npz", x=np.array([{"a": 1}], dtype=object), y=np.array([1]))
    (folder / "model.pt").write_bytes(b"\x80\x04K\x01.")  # a pickle
    import torch

    from node.ml.model import state_to_bytes

    (folder / "wrong.safetensors").write_bytes(state_to_bytes({"w": torch.ones(3)}))
    from client.spec_cmds import template

    (folder / "bad.yaml").write_text(template().replace("batch_size: 32", "batch_size: 0"))
    from eth_account import Account

    (folder / "password").write_text("pw")  # an account nobody funded: a node of it can pay for nothing
    (folder / "empty-key.json").write_text(json.dumps(Account.encrypt(Account.create().key, "pw", iterations=2)))
    return folder


def _run(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """``dml ARGV`` in this process, as a user runs it in its own: the logging it set up (a node command raises the
    level to INFO, on a handler of this capture's stderr) is put back after it."""
    import logging

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    monkeypatch.setattr(sys, "argv", ["dml", *argv])
    try:
        with pytest.raises(SystemExit) as exit_:
            main()
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers
    return int(exit_.value.code or 0), capsys.readouterr().err


def test_bad_input_is_one_line_with_its_exit_code_and_changes_nothing(
    chain: Chain,
    tmp_path: Path,
    bad_files: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # no devnet record here: every command takes the flags below
    with store_server(tmp_path / "objects") as (store, _):
        f = flags(chain, tmp_path, store)
        market = chain.market()
        owner = chain.accounts[1].address
        before = (
            sorted(p.name for p in (tmp_path / "objects").rglob("*") if p.is_file()),
            chain.w3.eth.get_transaction_count(owner),
            market.task_count(),
            chain.w3.eth.get_balance(chain.deployment.address),
        )
        failures = []
        for argv, code, message in CASES:
            args = [a.replace("{dir}", str(bad_files)) for a in argv]
            if args != ["nosuch"]:  # the connection flags go before a `--` (after it, everything is positional)
                cut = args.index("--") if "--" in args else len(args)
                args = [*args[:cut], *f, *args[cut:]]
            got, err = _run(args, capsys, monkeypatch)
            lines = err.strip().splitlines()
            if got != code or len(lines) != 1 or message not in err:
                failures.append(f"dml {' '.join(argv)}: exit {got} (want {code}), stderr {err.strip()!r}")
        after = (
            sorted(p.name for p in (tmp_path / "objects").rglob("*") if p.is_file()),
            chain.w3.eth.get_transaction_count(owner),
            market.task_count(),
            chain.w3.eth.get_balance(chain.deployment.address),
        )
    assert failures == []
    assert after == before, "nothing was uploaded, sent or escrowed"


def test_a_deployment_of_a_build_the_chain_cannot_run_is_one_line_and_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from node.chain.devnet import Devnet, dev_accounts
    from node.chain.rpc import connect

    out = tmp_path / "deployment.json"
    with Devnet(hardfork="shanghai") as old:
        deployer = dev_accounts(1)[0].address
        base = ["deploy", "--rpc", old.rpc_url, "--dev-account", "0", "--out", str(out)]
        for flag, code, message in [
            ("cancun", 18, "lacks transient storage (EIP-1153: TLOAD, TSTORE)"),
            ("paris", 2, "--evm-version 'paris': give one of auto, cancun, shanghai"),
        ]:
            got, err = _run([*base, "--evm-version", flag], capsys, monkeypatch)
            assert (got, len(err.strip().splitlines())) == (code, 1), err
            assert message in err
        assert connect(old.rpc_url).eth.get_transaction_count(deployer) == 0, "nothing was sent"
        assert not out.exists()
        monkeypatch.setattr(sys, "argv", ["dml", *base])
        main()  # auto: the build this chain runs
        assert "TaskMarket (shanghai build) deployed" in capsys.readouterr().out
        assert '"evm_version": "shanghai"' in out.read_text()
