"""Which events are searchable, their text, and their tantivy document.

The spec's searchable keys: `content.body` of `m.room.message`,
`content.name` of `m.room.name`, `content.topic` of `m.room.topic` (and the
`text/plain` representation in its `m.topic` block). Nothing else is indexed;
in particular `m.room.encrypted` events never are (the server cannot read them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import tantivy

from search_index import schema as f
from search_index.analysis import cjk_runs, cjk_tokens, normalise

MESSAGE = "m.room.message"
NAME = "m.room.name"
TOPIC = "m.room.topic"

# The spec's `keys` and the one event type each searches.
KEY_TYPES = {"content.body": MESSAGE, "content.name": NAME, "content.topic": TOPIC}
INDEXED_TYPES = tuple(KEY_TYPES.values())


@dataclass(frozen=True)
class IndexableEvent:
    event_id: str
    room_id: str
    sender: str
    type: str
    origin_server_ts: int
    writer: int
    stream_pos: int
    content: Mapping[str, Any]


def searchable_text(event_type: str, content: Any) -> str | None:
    """The text search looks at for this event, or None when it has none."""
    if not isinstance(content, Mapping):
        return None
    parts: list[str] = []
    if event_type == MESSAGE:
        parts.append(content.get("body"))
    elif event_type == NAME:
        parts.append(content.get("name"))
    elif event_type == TOPIC:
        parts.append(content.get("topic"))
        parts.extend(_plain_topic_bodies(content.get("m.topic")))
    texts = [p for p in dict.fromkeys(p for p in parts if isinstance(p, str)) if p.strip()]
    return "\n".join(texts) if texts else None


def _plain_topic_bodies(block: Any) -> list[Any]:
    reps = block.get("m.text") if isinstance(block, Mapping) else None
    if not isinstance(reps, list):
        return []
    return [
        r.get("body") for r in reps
        if isinstance(r, Mapping) and r.get("mimetype", "text/plain") == "text/plain"
    ]


def to_document(event: IndexableEvent, languages: tuple[str, ...]) -> tantivy.Document | None:
    """The event's document, or None when the event has nothing to search."""
    if event.type not in INDEXED_TYPES:
        return None
    text = searchable_text(event.type, event.content)
    if text is None:
        return None
    text = normalise(text)
    doc = tantivy.Document()
    doc.add_text(f.EVENT_ID, event.event_id)
    doc.add_text(f.ROOM_ID, event.room_id)
    doc.add_text(f.SENDER, event.sender)
    doc.add_text(f.TYPE, event.type)
    msgtype = event.content.get("msgtype")
    if isinstance(msgtype, str):
        doc.add_text(f.MSGTYPE, msgtype)
    doc.add_boolean(f.HAS_URL, "url" in event.content)
    doc.add_integer(f.TS, int(event.origin_server_ts))
    doc.add_integer(f.WRITER, int(event.writer))
    doc.add_integer(f.STREAM_POS, int(event.stream_pos))
    doc.add_float(f.JITTER, f.jitter_of(event.event_id))
    doc.add_text(f.WORDS, text)
    for lang in languages:
        doc.add_text(f.stem_field(lang), text)
    runs = cjk_runs(text)
    if runs:
        pairs, singles = cjk_tokens(runs)
        joined = "".join(runs)
        if pairs:
            doc.add_pre_tokenized_text(f.CJK2, tantivy.PreTokenizedString(joined, pairs))
        doc.add_pre_tokenized_text(f.CJK1, tantivy.PreTokenizedString(joined, singles))
    return doc
