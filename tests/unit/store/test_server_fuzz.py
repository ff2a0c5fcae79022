"""The store server fuzzed at its HTTP boundary: whatever arrives, never a 500, and never a bad object kept."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from node.store.cid import cid_of
from node.store.local import LocalStore
from node.store.server import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

path_segments = st.one_of(
    st.text(min_size=0, max_size=80),
    st.sampled_from([cid_of(b"a"), cid_of(b"a").upper(), "0x" + "ab" * 32, "..", "%2e%2e", "bafkrei", "a/b"]),
)
methods = st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"])
bodies = st.one_of(st.binary(max_size=2048), st.just(b"a"))
headers = st.dictionaries(
    st.sampled_from(["Authorization", "Content-Type", "If-None-Match", "Range", "Content-Length"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(method=methods, segment=path_segments, body=bodies, extra=headers)
def test_no_request_gets_a_500(method: str, segment: str, body: bytes, extra: dict[str, str]) -> None:
    tmp_path = Path(tempfile.mkdtemp())
    store = LocalStore(tmp_path / "objects", max_bytes=1024)
    client = TestClient(create_app(store, write_token="tok"), raise_server_exceptions=False)
    extra = {k: v for k, v in extra.items() if k != "Content-Length" or v.isdigit()}
    # Percent-encoded, so that every generated segment is a URL httpx can send.
    response = client.request(method, f"/ipfs/{quote(segment, safe='')}", content=body, headers=extra)
    assert response.status_code < 500, (method, segment, response.status_code, response.text)
    for stored in (tmp_path / "objects").glob("*/*/*"):
        assert cid_of(stored.read_bytes()) == stored.name, "an object was kept under a CID it does not hash to"


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=4096), claimed=st.binary(max_size=64))
def test_put_keeps_exactly_the_bytes_that_match(body: bytes, claimed: bytes) -> None:
    store = LocalStore(Path(tempfile.mkdtemp()) / "objects", max_bytes=4096)
    client = TestClient(create_app(store), raise_server_exceptions=False)
    response = client.put(f"/ipfs/{cid_of(claimed)}", content=body)
    if body == claimed:
        assert response.status_code in (200, 201)
        assert client.get(f"/ipfs/{cid_of(body)}").content == body
    else:
        assert response.status_code == 422
        assert not store.has(cid_of(body))
