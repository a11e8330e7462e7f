"""Keys and request signatures against a real Synapse, over TLS on loopback.

- Synapse's notary serves our key: Synapse fetched it from our TLS listener
  and checked our self-signature.
- Our FederationClient's signed request is accepted by Synapse.
- Our notary serves Synapse's key: our server_keys fetched and checked it.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from dendray.server import RunningServer
from federation.client import FederationClient, FederationError
from protocol.server_keys import parse_key_response
from protocol.signing import get_verify_key, key_id, read_signing_keys, verify_json
from tests.clients import register
from tests.conftest import SynapsePeer
from tests.e2e_server import FEDERATION_PORT, SERVER_NAME


def test_synapse_notary_serves_our_key(server: RunningServer, synapse_peer: SynapsePeer) -> None:
    ours = read_signing_keys(server.config.signing_key)[0]
    # Asking for our key by ID makes Synapse fetch it (with no IDs it only answers from cache).
    r = httpx.post(f"{synapse_peer.fed_url}/_matrix/key/v2/query", verify=False, timeout=60,
                   json={"server_keys": {SERVER_NAME: {key_id(ours): {"minimum_valid_until_ts": 0}}}})
    assert r.status_code == 200, r.text
    answers = [a for a in r.json()["server_keys"] if a["server_name"] == SERVER_NAME]
    assert answers, r.json()
    keys = parse_key_response(answers[0], SERVER_NAME)
    assert key_id(ours) in keys.verify_keys
    assert synapse_peer.server_name in answers[0]["signatures"]


async def test_our_signed_request_is_accepted_by_synapse(
    server: RunningServer, synapse_peer: SynapsePeer
) -> None:
    someone = register(synapse_peer)
    client = FederationClient(server.config)
    try:
        profile = await client.get_json(synapse_peer.server_name,
                                        "/_matrix/federation/v1/query/profile",
                                        {"user_id": someone.user_id})
        assert isinstance(profile, dict)
        # A user Synapse does not have: its error comes back as a FederationError.
        try:
            await client.get_json(synapse_peer.server_name, "/_matrix/federation/v1/query/profile",
                                  {"user_id": f"@nobody-here:{synapse_peer.server_name}"})
            raised = None
        except FederationError as e:
            raised = e
        assert raised is not None and raised.status == 404 and raised.errcode == "M_NOT_FOUND"
    finally:
        await client.aclose()


def test_our_notary_serves_synapse_keys(server: RunningServer, synapse_peer: SynapsePeer) -> None:
    ours = read_signing_keys(server.config.signing_key)[0]
    r = httpx.get(f"https://127.0.0.1:{FEDERATION_PORT}/_matrix/key/v2/query/"
                  f"{quote(synapse_peer.server_name, safe='')}", verify=False, timeout=60)
    assert r.status_code == 200, r.text
    [answer] = r.json()["server_keys"]
    assert parse_key_response(answer, synapse_peer.server_name).verify_keys
    verify_json(answer, SERVER_NAME, key_id(ours), get_verify_key(ours))
