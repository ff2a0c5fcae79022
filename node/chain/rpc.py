"""Connecting to a JSON-RPC endpoint, and reads that ride out transient faults.

Reads retry through the one retry policy (:mod:`node.retry`: exponential backoff, full jitter); a chain that
never answers surfaces as :class:`~node.errors.ChainUnreachable` with the command that starts a local one.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.providers.rpc import HTTPProvider

from node.errors import ChainUnreachable, WrongChain
from node.retry import RetryPolicy, retry

log = logging.getLogger(__name__)

T = TypeVar("T")

# The transport failed: the request may or may not have reached the node.
TRANSPORT = (requests.exceptions.RequestException, ConnectionError, TimeoutError, OSError)
# The endpoint itself does not answer (refused, reset, timed out): what a node waits out for a bounded time. Not
# every OSError: a full disk or a permission error is the node's own fault, not the chain's.
UNREACHABLE = (requests.exceptions.RequestException, ConnectionError, TimeoutError, ChainUnreachable)
# Worth retrying for a read: a transport failure, or the node answered with an error that is not a revert.
TRANSIENT = (*TRANSPORT, Web3RPCError)


def is_insufficient_funds(err: BaseException) -> bool:
    """The node refused a call or transaction because the sender cannot pay: an answer, not a fault to retry."""
    return isinstance(err, Web3RPCError) and "insufficient funds" in str(err).lower()


DEFAULT_RETRY = RetryPolicy()


def with_retries(
    read: Callable[[], T],
    *,
    policy: RetryPolicy = DEFAULT_RETRY,
    what: str = "read",
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Runs ``read``, retrying transient failures; a revert is an answer, not a fault, and is raised at once."""

    def log_retry(attempt: int, err: Exception) -> None:
        # Debug only: whoever gives up says so once (a node per outage, a command in its error), not every try.
        log.debug("rpc read failed, retrying", extra={"what": what, "attempt": attempt, "error": str(err)})

    return retry(read, retry_if=_worth_retrying, policy=policy, on_retry=log_retry, sleep=sleep, rng=rng)


def _worth_retrying(err: Exception) -> bool:
    return isinstance(err, TRANSIENT) and not isinstance(err, ContractLogicError) and not is_insufficient_funds(err)


class _CountingSession(requests.Session):
    """The HTTP session of one client, counting the requests it sends (a batch is one request, as an RPC provider
    meters HTTP calls): ``dml_rpc_requests`` of a node's /metrics, and the scale benchmark's requests per block."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.sent = 0

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        with self._lock:
            self.sent += 1
        return super().request(*args, **kwargs)


_SESSIONS: weakref.WeakKeyDictionary[Web3, _CountingSession] = weakref.WeakKeyDictionary()


def rpc_requests(w3: Web3) -> int:
    """HTTP requests this client has sent to its RPC endpoint since :func:`connect` made it."""
    session = _SESSIONS.get(w3)
    return session.sent if session is not None else 0


def connect(rpc_url: str, *, timeout_s: float = 10.0, expected_chain_id: int | None = None) -> Web3:
    """A Web3 client for ``rpc_url`` that has answered once; checks the chain id when one is expected."""
    # Our own retry layer decides what to retry; web3's would retry reverts' siblings blindly.
    # Proxies from the environment are looked up once here, not on every request (requests walks os.environ
    # per call: a large share of a node's CPU time when it polls).
    session = _CountingSession()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(rpc_url))
    provider = HTTPProvider(
        rpc_url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=None, session=session
    )
    w3 = Web3(provider)
    _SESSIONS[w3] = session
    # We sign locally and check the chain id once, below; names are never ENS. These two middlewares would
    # re-validate and re-resolve every request (about two thirds of the cost of a contract read).
    w3.middleware_onion.remove("validation")
    w3.middleware_onion.remove("ens_name_to_address")
    try:
        chain_id = int(w3.eth.chain_id)
    except TRANSIENT as err:
        raise ChainUnreachable(rpc_url, type(err).__name__) from err
    if expected_chain_id is not None and chain_id != expected_chain_id:
        raise WrongChain(expected_chain_id, chain_id)
    return w3
