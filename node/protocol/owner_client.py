"""The miner's side of the step protocol: a :class:`node.ml.split_unit.Transport` over HTTP, every request signed
by the unit's claimant. Transient faults (the owner's side unreachable, 5xx) are retried with the one retry
policy; a refusal (4xx) is a :class:`StepRefused` at once, with the owner's reason."""

from __future__ import annotations

import httpx
from eth_account.signers.local import LocalAccount
from pydantic import ValidationError

from node.errors import StepRefused
from node.protocol.owner_service import Commitment
from node.protocol.step_auth import SIGNATURE_HEADER, Binding, StepRequest, sign_step
from node.retry import RetryPolicy, retry

_TRANSIENT = (httpx.TransportError,)


class _ServerFault(Exception):
    """A 5xx: the owner's side failed this time; tried again."""


class HttpTransport:
    def __init__(
        self,
        base_url: str,
        account: LocalAccount,
        binding: Binding,
        unit: tuple[int, int, int],
        *,
        client: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._account = account
        self._binding = binding
        self._task, self._round, self._unit = unit
        self._client = client or httpx.Client(timeout=timeout_s)
        self._policy = policy or RetryPolicy()

    def _post(self, step: int, kind: str, body: bytes) -> bytes:
        request = StepRequest(
            self._binding.chain_id, self._binding.contract, self._task, self._round, self._unit, step, kind
        )
        headers = {
            SIGNATURE_HEADER: sign_step(self._account, request, body),
            "Content-Type": "application/octet-stream",
        }
        url = f"{self._base}/split/v1/{self._task}/{self._round}/{self._unit}/{step}/{kind}"

        def once() -> bytes:
            response = self._client.post(url, content=body, headers=headers)
            if response.status_code >= 500:
                raise _ServerFault(f"{response.status_code}: {response.text[:200]}")
            if response.status_code >= 400:
                detail = response.json().get("detail", response.text) if response.content else response.reason_phrase
                raise StepRefused(f"the owner refused the {kind} of step {step} ({response.status_code}): {detail}")
            return response.content

        try:
            return retry(once, retry_if=lambda err: isinstance(err, (*_TRANSIENT, _ServerFault)), policy=self._policy)
        except (*_TRANSIENT, _ServerFault) as err:
            raise StepRefused(f"the owner's side did not answer the {kind} of step {step}: {err}") from err

    def activations(self, step: int) -> bytes:
        return self._post(step, "activations", b"")

    def output(self, step: int, message: bytes) -> bytes:
        return self._post(step, "output", message)

    def gradient(self, step: int, message: bytes) -> None:
        self._post(step, "gradient", message)

    def commitment(self, steps: int) -> Commitment:
        """The owner's signed traffic heads, once all ``steps`` steps are answered."""
        raw = self._post(steps, "commitment", b"")
        try:
            return Commitment.model_validate_json(raw)
        except ValidationError as err:
            raise StepRefused(f"the owner's commitment does not parse: {err}") from err
