"""Key answers (server-server "Publishing Keys"): building ours, checking others', notary signatures."""

from __future__ import annotations

import copy

import pytest

from protocol.server_keys import (
    MAX_TRUST_MS,
    KeyResponseError,
    OldKey,
    build_key_response,
    check_notary_signature,
    countersign,
    parse_key_response,
    trusted_until,
)
from protocol.signing import generate_signing_key, sign_json, verify_key_base64

KEY = generate_signing_key("k1")
OLD = OldKey("ed25519:k0", verify_key_base64(generate_signing_key("k0")), 1000)
GOOD = build_key_response("s.org", KEY, [OLD], 5000)


def test_round_trip() -> None:
    keys = parse_key_response(GOOD, "s.org")
    assert keys.verify_keys == {"ed25519:k1": verify_key_base64(KEY)}
    assert keys.old_verify_keys == {"ed25519:k0": OLD}
    assert keys.valid_until_ts == 5000


def _broken(change: str) -> dict:
    answer = copy.deepcopy(GOOD)
    if change == "name":
        answer["server_name"] = "t.org"
    elif change == "valid_until":
        answer["valid_until_ts"] = "soon"
    elif change == "key":
        answer["verify_keys"]["ed25519:k1"]["key"] = verify_key_base64(generate_signing_key("k1"))
    elif change == "unsigned":
        answer["signatures"] = {}
    elif change == "signatures_list":
        answer["signatures"] = []
    elif change == "old_without_expiry":
        del answer["old_verify_keys"]["ed25519:k0"]["expired_ts"]
    elif change == "bad_key_text":
        answer["verify_keys"]["ed25519:k1"]["key"] = "!!"
    elif change == "not_object":
        return ["nope"]  # type: ignore[return-value]
    return answer


@pytest.mark.parametrize("change", ["name", "valid_until", "key", "unsigned", "signatures_list",
                                    "old_without_expiry", "bad_key_text", "not_object"])
def test_bad_answers_are_refused(change: str) -> None:
    with pytest.raises(KeyResponseError):
        parse_key_response(_broken(change), "s.org")


def test_unknown_algorithms_are_skipped() -> None:
    answer = build_key_response("s.org", KEY, [], 5000)
    answer["verify_keys"]["curve448:x"] = {"key": "whatever"}
    answer = sign_json({k: v for k, v in answer.items() if k != "signatures"}, "s.org", KEY)
    assert list(parse_key_response(answer, "s.org").verify_keys) == ["ed25519:k1"]


def test_notary_countersignature() -> None:
    notary = generate_signing_key("n")
    served = countersign(GOOD, "notary.org", notary)
    check_notary_signature(served, "notary.org", {"ed25519:n": verify_key_base64(notary)})
    parse_key_response(served, "s.org")  # the origin's signature survives
    with pytest.raises(KeyResponseError):
        check_notary_signature(GOOD, "notary.org", {"ed25519:n": verify_key_base64(notary)})
    with pytest.raises(KeyResponseError):
        check_notary_signature(served, "notary.org",
                               {"ed25519:n": verify_key_base64(generate_signing_key("n"))})


def test_trust_is_capped_at_7_days_after_fetching() -> None:
    assert trusted_until(10**15, 1000) == 1000 + MAX_TRUST_MS
    assert trusted_until(2000, 1000) == 2000
