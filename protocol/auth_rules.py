"""The authorization rules of room versions 1-12.

`check_auth_rules(event, auth_events)` decides whether `event` is allowed given
the state it is checked against (its own auth events, the state before it,
or the current state: the caller chooses, see "Checks performed on receipt
of a PDU"). It raises `AuthError` naming the rule of that room version's own
list that rejected the event, or returns None.

Rule numbers follow each version's list as the spec renders it:

- v1, v2 (v1 fragment): 1 create, 2 auth events, 3 m.federate, 4 aliases,
  5 membership, 6 sender joined, 7 third-party invite, 8 required level,
  9 `@` state keys, 10 power levels, 11 redaction.
- v3-v5 (v3 fragment): as v1 without the redaction rule.
- v6, v7 (inlined): 1 create, 2.1/2.2 auth events, 3 no create event,
  4 membership, 5-8 as v1's 6-9, 9 power levels.
- v8-v11 (v8 fragment, v10/v11 inlined): 1 create, 2 auth events,
  3 m.federate, 4 membership (4.2 is the restricted-join signature), 5-8,
  9 power levels (from v10 with the integer checks 9.1/9.2 first).
- v12: 1 create, 2 room ID is the create event, 3 auth events, 4 m.federate,
  5 membership, 6-9, 10 power levels (10.4 keeps creators out of `users`).
  The v12 source list numbers "auth event from another room" 5 after 3.3;
  it renders (and is reported here) as 3.4.

Three checks have no number in some versions; they are applied in every
version because the receipt checks imply them, and reported as follows:
the create event's `m.federate` (no rule in the v6/v7 lists: "3"), auth
events that were rejected (not listed in v6/v7: "2") and auth events from
another room (only numbered in v12: "2" before v12).

The rules only look at the entries of `auth_events` that the auth events
selection names for `event`, so a whole state map may be passed. The rules
about the *cited* list (duplicates, entries the selection does not name)
are `check_auth_events_selection`, since a mapping cannot hold duplicates.
Signature checks of the event itself belong to the receipt checks, not here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from signedjson.key import decode_verify_key_bytes
from signedjson.sign import verify_signed_json
from unpaddedbase64 import decode_base64

from protocol import power_levels as pl
from protocol.auth_events_selection import auth_types_for_event
from protocol.events import (
    ALIASES,
    CREATE,
    JOIN_RULES,
    MEMBER,
    POWER_LEVELS,
    REDACTION,
    THIRD_PARTY_INVITE,
    Event,
    StateKey,
)
from protocol.identifiers import is_valid_user_id
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion

IsSignedBy = Callable[[Event, str], bool]

# The power levels properties that rule 10.3 (v1) compares one by one.
_NAMED_LEVELS = (
    "users_default",
    "events_default",
    "state_default",
    "ban",
    "redact",
    "kick",
    "invite",
)


class AuthError(Exception):
    """An event is not allowed: `rule` is the rule's number in its room
    version's list (e.g. "4.3.2"), `reason` a short English sentence."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(f"auth rule {rule}: {reason}")
        self.rule = rule
        self.reason = reason


# ---------------------------------------------------------------------------
# Rule numbering per room version


@dataclass(frozen=True, slots=True)
class _Numbering:
    """Where each rule sits in one room version's list."""

    rv: RoomVersion

    @property
    def _v12(self) -> bool:
        return self.rv.room_id_is_create_event_id

    @property
    def _v6_list(self) -> bool:
        # v6 and v7 inline an older shape of rules 2-3: "2. Reject if event has
        # auth_events that: 2.1, 2.2" and "3. no m.room.create".
        return not self.rv.special_case_aliases_auth and not self.rv.restricted_join

    @property
    def auth(self) -> str:
        return "3" if self._v12 else "2"

    @property
    def duplicate(self) -> str:
        return self.auth + ".1"

    @property
    def unselected(self) -> str:
        return self.auth + ".2"

    @property
    def rejected(self) -> str:
        return "2" if self._v6_list else self.auth + ".3"

    @property
    def wrong_room(self) -> str:
        return "3.4" if self._v12 else "2"

    @property
    def no_create(self) -> str:
        return "3" if self._v6_list else "2.4"

    @property
    def federate(self) -> str:
        return "4" if self._v12 else "3"

    @property
    def aliases(self) -> str:
        return "4"

    @property
    def _member_index(self) -> int:
        return 5 if (self.rv.special_case_aliases_auth or self._v12) else 4

    @property
    def member(self) -> str:
        return str(self._member_index)

    def member_branch(self, branch: str) -> str:
        """The number of `join`/`invite`/`leave`/`ban`/`knock`/`unknown`/`authoriser`."""
        order = ["join", "invite", "leave", "ban"]
        if self.rv.restricted_join:
            order.insert(0, "authoriser")
        if self.rv.knock:
            order.append("knock")
        order.append("unknown")
        return f"{self.member}.{order.index(branch) + 2}"

    def join(self, step: str) -> str:
        """Join sub-rules by name: first, sender, banned, invite, restricted, public, otherwise."""
        order = ["first", "sender", "banned", "invite"]
        if self.rv.restricted_join:
            order.append("restricted")
        order += ["public", "otherwise"]
        return f"{self.member_branch('join')}.{order.index(step) + 1}"

    def _after_member(self, offset: int) -> str:
        return str(self._member_index + offset)

    @property
    def sender_joined(self) -> str:
        return self._after_member(1)

    @property
    def third_party_invite(self) -> str:
        return self._after_member(2)

    @property
    def required_level(self) -> str:
        return self._after_member(3)

    @property
    def state_key_at(self) -> str:
        return self._after_member(4)

    @property
    def power_levels(self) -> str:
        return self._after_member(5)

    @property
    def redaction(self) -> str:
        return self._after_member(6)

    def pl(self, step: str) -> str:
        """Power levels sub-rules by name (see `_check_power_levels`)."""
        order: list[str] = []
        if self.rv.integer_power_levels:
            order += ["named_types", "map_types"]
        order.append("users_types")
        if self.rv.privileged_creators:
            order.append("creators")
        order += ["no_previous", "named", "removed", "added", "users_removed", "users_added"]
        return f"{self.power_levels}.{order.index(step) + 1}"


# ---------------------------------------------------------------------------
# The state the rules read


@dataclass(frozen=True, slots=True)
class _Context:
    """An event under check and the selected auth events it is checked against."""

    event: Event
    rv: RoomVersion
    auth: Mapping[StateKey, Event]
    num: _Numbering
    is_signed_by: IsSignedBy | None

    @property
    def create(self) -> Event | None:
        return self.auth.get((CREATE, ""))

    @property
    def pl_content(self) -> Mapping[str, Any] | None:
        pl_event = self.auth.get((POWER_LEVELS, ""))
        return None if pl_event is None else pl_event.content

    def membership(self, user_id: str) -> str | None:
        """The user's current membership, None when they have no member event."""
        member = self.auth.get((MEMBER, user_id))
        return None if member is None else member.membership

    def power(self, user_id: str) -> pl.PowerLevel:
        return pl.user_power_level(user_id, self.pl_content, self.create, self.rv)

    def level(self, name: str) -> int:
        return pl.named_level(self.pl_content, name, self.rv)

    @property
    def join_rule(self) -> str:
        """The current join rule. The spec gives no default for a room without
        an `m.room.join_rules` event (or without `join_rule` in it); `invite`
        is the reading every implementation shares and the only one that
        still lets invited users accept."""
        event = self.auth.get((JOIN_RULES, ""))
        rule = None if event is None else event.content.get("join_rule")
        return rule if isinstance(rule, str) else "invite"


def _domain(identifier: object) -> str | None:
    """The server part of a `@user:server`, `!room:server` or `$id:server` ID."""
    if not isinstance(identifier, str):
        return None
    _, sep, server = identifier.partition(":")
    return server if sep and server else None


# ---------------------------------------------------------------------------
# Entry points


def check_auth_rules(
    event: Event,
    auth_events: Mapping[tuple[str, str], Event],
    *,
    is_signed_by: IsSignedBy | None = None,
) -> None:
    """Raise AuthError unless `event` passes its room version's auth rules.

    `auth_events` maps (type, state_key) to the events to check against; only
    the pairs the auth events selection names for `event` are read, so any
    superset (e.g. a full state map) gives the same answer. In v12 the create
    event must also be given under ("m.room.create", ""), though it is never
    cited. `is_signed_by(event, server_name)` says whether `event` carries a
    valid signature of `server_name`; it is used for
    `join_authorised_via_users_server` (v8+). When it is None that signature
    is taken as valid: the caller has then checked it beforehand.
    """
    rv = event.room_version
    ctx = _Context(event, rv, _selected(event, auth_events), _Numbering(rv), is_signed_by)
    if event.type == CREATE:  # whatever its state_key: only the first event may be one
        _check_create(ctx)
        return
    for step in _STEPS:
        if step(ctx):
            return


def check_auth_events_selection(event: Event, cited: Sequence[Event]) -> None:
    """Raise AuthError if the cited auth events of `event` hold a (type,
    state_key) twice (rule 2.1; 3.1 in v12) or one the auth events selection
    does not name (rule 2.2; 3.2 in v12, where the create event is never named)."""
    num = _Numbering(event.room_version)
    allowed = set(_selection(event))
    seen: set[StateKey] = set()
    for auth_event in cited:
        key = auth_event.key
        if key in seen:
            raise AuthError(num.duplicate, f"auth events cite {key} twice")
        seen.add(key)
        if not auth_event.is_state or key not in allowed:
            raise AuthError(
                num.unselected, f"auth event {auth_event.event_id} {key} is not one to cite"
            )


def _selection(event: Event) -> list[StateKey]:
    return auth_types_for_event(
        event.room_version, event.type, event.state_key, event.sender, event.content
    )


def _selected(event: Event, auth_events: Mapping[tuple[str, str], Event]) -> dict[StateKey, Event]:
    """The entries of `auth_events` the rules may read (plus the v12 create event)."""
    # In selection order, so the first bad entry reported does not vary by run.
    keys = dict.fromkeys([*_selection(event), (CREATE, "")])
    return {key: auth_events[key] for key in keys if key in auth_events}


# ---------------------------------------------------------------------------
# Rule 1: m.room.create


def _check_create(ctx: _Context) -> None:
    event, rv = ctx.event, ctx.rv
    if event.pdu.get("prev_events"):
        raise AuthError("1.1", "the create event has prev_events")
    if rv.room_id_is_create_event_id:
        if "room_id" in event.pdu:
            raise AuthError("1.2", "a v12 create event must not have a room_id")
    elif _domain(event.room_id) is None or _domain(event.room_id) != _domain(event.sender):
        raise AuthError("1.2", "the room ID's domain is not the sender's")
    if "room_version" in event.content and not _is_known_version(event.content["room_version"]):
        raise AuthError("1.3", "content.room_version is not a recognised version")
    if rv.privileged_creators:
        _check_additional_creators(event)
    elif not rv.implicit_room_creator and "creator" not in event.content:
        raise AuthError("1.4", "the create event has no content.creator")


def _is_known_version(identifier: object) -> bool:
    return isinstance(identifier, str) and identifier in KNOWN_ROOM_VERSIONS


def _check_additional_creators(event: Event) -> None:
    if "additional_creators" not in event.content:
        return
    extra = event.content["additional_creators"]
    if not isinstance(extra, list) or not all(is_valid_user_id(u) for u in extra):
        raise AuthError("1.4", "additional_creators is not a list of valid user IDs")


# ---------------------------------------------------------------------------
# Rules 2-4 (v12: 2-4; v1-v11: 2-3 and the v1-v5 aliases rule)


def _check_room_is_create(ctx: _Context) -> bool:
    """v12 rule 2: the room ID is the ID of an accepted create event."""
    if not ctx.rv.room_id_is_create_event_id:
        return False
    create = ctx.create
    if create is None or create.rejected or create.type != CREATE or create.state_key != "":
        raise AuthError("2", "the room ID is not the ID of an accepted create event")
    if create.room_id != ctx.event.room_id:
        raise AuthError("2", "the room ID is not the ID of the create event")
    return False


def _check_auth_events(ctx: _Context) -> bool:
    num = ctx.num
    for key, auth_event in ctx.auth.items():
        if auth_event.key != key or not auth_event.is_state:
            raise AuthError(
                num.unselected, f"auth event {auth_event.event_id} is not the {key} event"
            )
    for auth_event in ctx.auth.values():
        if auth_event.rejected:
            raise AuthError(num.rejected, f"auth event {auth_event.event_id} was rejected")
    for auth_event in ctx.auth.values():
        if auth_event.room_id != ctx.event.room_id:
            raise AuthError(
                num.wrong_room, f"auth event {auth_event.event_id} is from another room"
            )
    if not ctx.rv.room_id_is_create_event_id and ctx.create is None:
        raise AuthError(num.no_create, "there is no m.room.create event among the auth events")
    return False


def _check_federate(ctx: _Context) -> bool:
    create = ctx.create
    if create is not None and create.content.get("m.federate") is False:
        if _domain(ctx.event.sender) != _domain(create.sender):
            raise AuthError(ctx.num.federate, "the room does not federate with the sender's server")
    return False


def _check_aliases(ctx: _Context) -> bool:
    """v1-v5 rule 4: anyone on a server may set that server's aliases."""
    event = ctx.event
    if not ctx.rv.special_case_aliases_auth or event.type != ALIASES:
        return False
    if event.state_key is None:
        raise AuthError("4.1", "m.room.aliases has no state_key")
    if _domain(event.sender) != event.state_key:
        raise AuthError("4.2", "the sender's domain is not the aliases state_key")
    return True


# ---------------------------------------------------------------------------
# Membership (rule 5 in v1-v5 and v12, rule 4 in v6-v11)


def _check_member(ctx: _Context) -> bool:
    event = ctx.event
    if event.type != MEMBER:
        return False
    if event.state_key is None or event.membership is None:
        raise AuthError(
            ctx.num.member + ".1", "the membership event has no state_key or membership"
        )
    if ctx.rv.restricted_join:
        _check_authoriser_signature(ctx)
    handler = _MEMBERSHIP_HANDLERS.get(event.membership)
    if handler is None or (event.membership == "knock" and not ctx.rv.knock):
        raise AuthError(
            ctx.num.member_branch("unknown"), f"unknown membership {event.membership!r}"
        )
    handler(ctx, event.state_key)
    return True


def _check_authoriser_signature(ctx: _Context) -> None:
    """v8+: a `join_authorised_via_users_server` must be vouched for by its server."""
    content = ctx.event.content
    if "join_authorised_via_users_server" not in content:
        return
    server = _domain(content["join_authorised_via_users_server"])
    rule = ctx.num.member_branch("authoriser") + ".1"
    if server is None:
        raise AuthError(rule, "join_authorised_via_users_server is not a user ID")
    if ctx.is_signed_by is not None and not ctx.is_signed_by(ctx.event, server):
        raise AuthError(rule, f"the event is not signed by {server}, the join authoriser's server")


def _check_join(ctx: _Context, target: str) -> None:
    event, num = ctx.event, ctx.num
    if _is_first_join_of_creator(ctx, target):
        return
    if event.sender != target:
        raise AuthError(num.join("sender"), "a user can only join themselves")
    membership = ctx.membership(event.sender)
    if membership == "ban":
        raise AuthError(num.join("banned"), "the sender is banned")
    join_rule = ctx.join_rule
    if join_rule == "invite" or (join_rule == "knock" and ctx.rv.knock):
        if membership in ("invite", "join"):
            return
    elif _is_restricted(ctx.rv, join_rule):
        _check_restricted_join(ctx, membership)
        return
    elif join_rule == "public":
        return
    raise AuthError(num.join("otherwise"), f"join rule {join_rule!r} does not let the sender join")


def _is_first_join_of_creator(ctx: _Context, target: str) -> bool:
    """Rule x.1: the creator's join right after the create event."""
    create = ctx.create
    prev = ctx.event.prev_event_ids
    if create is None or len(prev) != 1 or prev[0] != create.event_id:
        return False
    if ctx.rv.implicit_room_creator:
        return target == create.sender  # v11+: the create event's sender only
    return target == create.content.get("creator")


def _is_restricted(rv: RoomVersion, join_rule: str) -> bool:
    return (join_rule == "restricted" and rv.restricted_join) or (
        join_rule == "knock_restricted" and rv.knock_restricted
    )


def _check_restricted_join(ctx: _Context, membership: str | None) -> None:
    if membership in ("invite", "join"):
        return
    authoriser = ctx.event.content.get("join_authorised_via_users_server")
    if not isinstance(authoriser, str) or not _can_invite(ctx, authoriser):
        raise AuthError(
            ctx.num.join("restricted") + ".2",
            "join_authorised_via_users_server is not a user who may invite",
        )


def _can_invite(ctx: _Context, user_id: str) -> bool:
    """Whether `user_id` could send an invite: joined, with the invite level."""
    return ctx.membership(user_id) == "join" and ctx.power(user_id) >= ctx.level("invite")


def _check_invite(ctx: _Context, target: str) -> None:
    event, prefix = ctx.event, ctx.num.member_branch("invite")
    if "third_party_invite" in event.content:
        _check_third_party_invite_member(ctx, target)
        return
    if ctx.membership(event.sender) != "join":
        raise AuthError(prefix + ".2", "the sender is not in the room")
    if ctx.membership(target) in ("join", "ban"):
        raise AuthError(prefix + ".3", "the target is already joined or is banned")
    if ctx.power(event.sender) < ctx.level("invite"):
        raise AuthError(prefix + ".5", "the sender's power level is below the invite level")


def _check_third_party_invite_member(ctx: _Context, target: str) -> None:
    """Rule x.1.1-8 of invites: an invite redeeming an `m.room.third_party_invite`."""
    event, prefix = ctx.event, ctx.num.member_branch("invite") + ".1"
    if ctx.membership(target) == "ban":
        raise AuthError(prefix + ".1", "the target is banned")
    invite = event.content["third_party_invite"]
    signed = invite.get("signed") if isinstance(invite, Mapping) else None
    if not isinstance(signed, Mapping):
        raise AuthError(prefix + ".2", "third_party_invite has no signed object")
    mxid, token = signed.get("mxid"), signed.get("token")
    if not isinstance(mxid, str) or not isinstance(token, str):
        raise AuthError(prefix + ".3", "signed has no mxid and token")
    if mxid != target:
        raise AuthError(prefix + ".4", "signed.mxid is not the state_key")
    tpi = ctx.auth.get((THIRD_PARTY_INVITE, token))
    if tpi is None:
        raise AuthError(prefix + ".5", "no m.room.third_party_invite matches the token")
    if tpi.sender != event.sender:
        raise AuthError(prefix + ".6", "the sender did not send the m.room.third_party_invite")
    if not _signed_by_any_key(signed, _public_keys(tpi.content)):
        raise AuthError(prefix + ".8", "no signature in signed matches the invite's public keys")


def _public_keys(content: Mapping[str, Any]) -> list[str]:
    """`public_key` and every `public_keys[].public_key` of a third-party invite."""
    keys: list[str] = []
    if isinstance(content.get("public_key"), str):
        keys.append(content["public_key"])
    listed = content.get("public_keys")
    if isinstance(listed, list):
        for entry in listed:
            if isinstance(entry, Mapping) and isinstance(entry.get("public_key"), str):
                keys.append(entry["public_key"])
    return keys


def _signed_by_any_key(signed: Mapping[str, Any], public_keys: Sequence[str]) -> bool:
    """Whether any ed25519 signature in `signed` verifies with any of the keys."""
    signatures = signed.get("signatures")
    if not isinstance(signatures, Mapping):
        return False
    for signer, by_key_id in signatures.items():
        if not isinstance(by_key_id, Mapping):
            continue
        for key_id in by_key_id:
            if not isinstance(key_id, str) or not key_id.startswith("ed25519:"):
                continue
            if any(_verifies(signed, signer, key_id, key) for key in public_keys):
                return True
    return False


def _verifies(signed: Mapping[str, Any], signer: str, key_id: str, public_key: str) -> bool:
    try:
        verify_key = decode_verify_key_bytes(key_id, decode_base64(public_key))
        verify_signed_json(dict(signed), signer, verify_key)
    except Exception:  # bad base64, wrong key length, bad signature: all "no match"
        return False
    return True


def _check_leave(ctx: _Context, target: str) -> None:
    event, prefix = ctx.event, ctx.num.member_branch("leave")
    if event.sender == target:
        allowed = {"invite", "join", "knock"} if ctx.rv.knock else {"invite", "join"}
        if ctx.membership(target) not in allowed:
            raise AuthError(prefix + ".1", "the sender has no membership to leave")
        return
    if ctx.membership(event.sender) != "join":
        raise AuthError(prefix + ".2", "the sender is not in the room")
    sender_power = ctx.power(event.sender)
    if ctx.membership(target) == "ban" and sender_power < ctx.level("ban"):
        raise AuthError(prefix + ".3", "the sender's power level is below the ban level")
    if sender_power >= ctx.level("kick") and ctx.power(target) < sender_power:
        return
    raise AuthError(prefix + ".5", "the sender may not kick the target")


def _check_ban(ctx: _Context, target: str) -> None:
    event, prefix = ctx.event, ctx.num.member_branch("ban")
    if ctx.membership(event.sender) != "join":
        raise AuthError(prefix + ".1", "the sender is not in the room")
    sender_power = ctx.power(event.sender)
    if sender_power >= ctx.level("ban") and ctx.power(target) < sender_power:
        return
    raise AuthError(prefix + ".3", "the sender may not ban the target")


def _check_knock(ctx: _Context, target: str) -> None:
    event, prefix = ctx.event, ctx.num.member_branch("knock")
    knockable = {"knock", "knock_restricted"} if ctx.rv.knock_restricted else {"knock"}
    if ctx.join_rule not in knockable:
        raise AuthError(prefix + ".1", f"join rule {ctx.join_rule!r} does not allow knocking")
    if event.sender != target:
        raise AuthError(prefix + ".2", "a user can only knock for themselves")
    if ctx.membership(event.sender) in ("ban", "invite", "join"):
        raise AuthError(prefix + ".4", "the sender is banned, invited or joined")


_MEMBERSHIP_HANDLERS: dict[str, Callable[[_Context, str], None]] = {
    "join": _check_join,
    "invite": _check_invite,
    "leave": _check_leave,
    "ban": _check_ban,
    "knock": _check_knock,
}


# ---------------------------------------------------------------------------
# Rules for every other event


def _check_sender_joined(ctx: _Context) -> bool:
    if ctx.membership(ctx.event.sender) != "join":
        raise AuthError(ctx.num.sender_joined, "the sender is not in the room")
    return False


def _check_third_party_invite_event(ctx: _Context) -> bool:
    if ctx.event.type != THIRD_PARTY_INVITE:
        return False
    if ctx.power(ctx.event.sender) < ctx.level("invite"):
        raise AuthError(
            ctx.num.third_party_invite + ".1", "the sender's power level is below the invite level"
        )
    return True


def _check_required_level(ctx: _Context) -> bool:
    event = ctx.event
    required = pl.required_power_level_for_event(event.type, event.is_state, ctx.pl_content, ctx.rv)
    if required > ctx.power(event.sender):
        raise AuthError(
            ctx.num.required_level, f"sending {event.type} needs power level {required}"
        )
    return False


def _check_state_key_at(ctx: _Context) -> bool:
    event = ctx.event
    if event.state_key is not None and event.state_key.startswith("@"):
        if event.state_key != event.sender:
            raise AuthError(ctx.num.state_key_at, "a state_key starting with @ must be the sender")
    return False


def _check_redaction(ctx: _Context) -> bool:
    """v1, v2 rule 11: redactions need the redact level or the same origin."""
    event = ctx.event
    if ctx.rv.uses_hash_event_ids or event.type != REDACTION:
        return False
    if ctx.power(event.sender) >= ctx.level("redact"):
        return True
    redacted_domain = _domain(event.redacts)
    if redacted_domain is not None and redacted_domain == _domain(event.event_id):
        return True
    raise AuthError(ctx.num.redaction + ".3", "the sender may not redact another server's event")


# ---------------------------------------------------------------------------
# Power levels (rule 10 in v1-v5 and v12, rule 9 in v6-v11)


def _check_power_levels(ctx: _Context) -> bool:
    if ctx.event.type != POWER_LEVELS:
        return False
    new = ctx.event.content
    _check_power_levels_shape(ctx, new)
    old_event = ctx.auth.get((POWER_LEVELS, ""))
    if old_event is None:
        return True
    _check_power_levels_changes(ctx, old_event.content, new)
    return True


def _check_power_levels_shape(ctx: _Context, new: Mapping[str, Any]) -> None:
    num, rv = ctx.num, ctx.rv
    if rv.integer_power_levels:
        for name in _NAMED_LEVELS:
            if name in new and not pl.is_valid_power_level(new[name], rv):
                raise AuthError(num.pl("named_types"), f"{name} is not an integer")
        for name in ("events", "notifications"):
            if name in new and not _is_level_map(new[name], rv):
                raise AuthError(num.pl("map_types"), f"{name} is not an object of integers")
    if "users" in new:
        users = new["users"]
        if not _is_level_map(users, rv) or not all(is_valid_user_id(u) for u in users):
            raise AuthError(num.pl("users_types"), "users is not an object of user IDs to levels")
    if rv.privileged_creators:
        listed = set(pl.level_map(new, "users", rv)) & pl.creators_of(ctx.create, rv)
        if listed:
            raise AuthError(num.pl("creators"), "room creators cannot be listed in users")


def _is_level_map(value: object, rv: RoomVersion) -> bool:
    return isinstance(value, Mapping) and all(
        pl.is_valid_power_level(v, rv) for v in value.values()
    )


def _check_power_levels_changes(
    ctx: _Context, old: Mapping[str, Any], new: Mapping[str, Any]
) -> None:
    num, rv = ctx.num, ctx.rv
    sender = ctx.event.sender
    sender_power = ctx.power(sender)
    for name in _NAMED_LEVELS:
        before = pl.parse_power_level(old.get(name), rv)
        after = pl.parse_power_level(new.get(name), rv)
        if before == after:
            continue
        if before is not None and before > sender_power:
            raise AuthError(num.pl("named") + ".1", f"{name} is above the sender's level")
        if after is not None and after > sender_power:
            raise AuthError(num.pl("named") + ".2", f"new {name} is above the sender's level")
    maps = ["events", "notifications"] if rv.limit_notifications_power_levels else ["events"]
    for name in maps:
        _check_level_map_changes(ctx, name, old, new, sender_power)
    _check_users_changes(ctx, old, new, sender, sender_power)


def _check_level_map_changes(
    ctx: _Context,
    name: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    sender_power: pl.PowerLevel,
) -> None:
    """Rules x.4/x.5 (v10+: x.6/x.7) for `events` and, from v6, `notifications`."""
    before = pl.level_map(old, name, ctx.rv)
    after = pl.level_map(new, name, ctx.rv)
    for key, level in before.items():
        if after.get(key) != level and level > sender_power:
            raise AuthError(
                ctx.num.pl("removed") + ".1", f"{name}[{key}] is above the sender's level"
            )
    for key, level in after.items():
        if before.get(key) != level and level > sender_power:
            raise AuthError(
                ctx.num.pl("added") + ".1", f"new {name}[{key}] is above the sender's level"
            )


def _check_users_changes(
    ctx: _Context,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    sender: str,
    sender_power: pl.PowerLevel,
) -> None:
    before = pl.level_map(old, "users", ctx.rv)
    after = pl.level_map(new, "users", ctx.rv)
    for user, level in before.items():
        if user != sender and after.get(user) != level and level >= sender_power:
            raise AuthError(
                ctx.num.pl("users_removed") + ".1", f"cannot change {user}, a peer or superior"
            )
    for user, level in after.items():
        if before.get(user) != level and level > sender_power:
            raise AuthError(
                ctx.num.pl("users_added") + ".1", f"cannot raise {user} above the sender's level"
            )


# The rules after the create rule, in the order of the spec's list; each
# returns True to allow (stop), False to go on, or raises to reject.
_STEPS: tuple[Callable[[_Context], bool], ...] = (
    _check_room_is_create,
    _check_auth_events,
    _check_federate,
    _check_aliases,
    _check_member,
    _check_sender_joined,
    _check_third_party_invite_event,
    _check_required_level,
    _check_state_key_at,
    _check_power_levels,
    _check_redaction,
)
