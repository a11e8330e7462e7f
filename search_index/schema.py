"""The tantivy schema of the message index: one document per searchable event.

Only the event ID is stored (results are read from PostgreSQL, the truth);
everything else is indexed for matching, filtering and ordering:

| field | how | what for |
|---|---|---|
| `event_id` | raw, stored | the hit; delete on redaction (term) |
| `room_id`, `sender`, `type`, `msgtype` | raw | filters (`rooms`, `senders`, `keys`/`types`) |
| `has_url` | bool | the filter's `contains_url` |
| `ts` | i64 fast + indexed | `order_by: recent`, its cursor (range) |
| `writer`, `stream_pos` | i64 fast | where the event sits in the room servers' streams |
| `jitter` | f64 fast | breaks score ties (see `jitter_of`) |
| `words` | words analyzer, positions | exact (folded) words, ranked higher |
| `stem_<language>` | stemming analyzer, frequencies | "running" finds "run" |
| `cjk2` / `cjk1` | pre-tokenised bigrams (positions) / characters | CJK substrings |

The fingerprint names the schema and its analyzers: an index folder built
with another one is rebuilt rather than queried with the wrong terms.
"""

from __future__ import annotations

import hashlib

import tantivy

from search_index.analysis import WORD_PATTERN, WORDS_TOKENIZER, stem_tokenizer

# Bump when the documents or analyzers change meaning: existing indexes rebuild.
SCHEMA_VERSION = 1

EVENT_ID = "event_id"
ROOM_ID = "room_id"
SENDER = "sender"
TYPE = "type"
MSGTYPE = "msgtype"
HAS_URL = "has_url"
TS = "ts"
WRITER = "writer"
STREAM_POS = "stream_pos"
JITTER = "jitter"
WORDS = "words"
CJK2 = "cjk2"
CJK1 = "cjk1"


def stem_field(language: str) -> str:
    return f"stem_{language}"


def build_schema(languages: tuple[str, ...]) -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field(EVENT_ID, stored=True, tokenizer_name="raw", index_option="basic")
    for name in (ROOM_ID, SENDER, TYPE, MSGTYPE):
        sb.add_text_field(name, tokenizer_name="raw", index_option="basic")
    sb.add_boolean_field(HAS_URL, indexed=True)
    sb.add_integer_field(TS, indexed=True, fast=True)
    sb.add_integer_field(WRITER, fast=True)
    sb.add_integer_field(STREAM_POS, fast=True)
    sb.add_float_field(JITTER, fast=True)
    sb.add_text_field(WORDS, tokenizer_name=WORDS_TOKENIZER, index_option="position")
    for lang in languages:
        sb.add_text_field(stem_field(lang), tokenizer_name=stem_tokenizer(lang), index_option="freq")
    # Pre-tokenised: the tokenizer name only matters to the query parser, which we do not use.
    sb.add_text_field(CJK2, tokenizer_name="raw", index_option="position")
    sb.add_text_field(CJK1, tokenizer_name="raw", index_option="freq")
    return sb.build()


# Ranked searches multiply each score by log2(2 + jitter) (tantivy's
# `weight_by_field`): at most +0.7%, too little to change relevance, but
# identical messages ("ok", "lol") no longer share one score, so a page
# boundary rarely falls inside a large group of ties that would all have to
# be read to order them by event ID.
_JITTER_STEPS = 4096
_JITTER_SPAN = 0.01


def jitter_of(event_id: str) -> float:
    """A fixed pseudo-random value in [0, 0.01) per event."""
    digest = hashlib.blake2b(event_id.encode(), digest_size=4).digest()
    return (int.from_bytes(digest, "big") % _JITTER_STEPS) * (_JITTER_SPAN / _JITTER_STEPS)


def fingerprint(languages: tuple[str, ...]) -> str:
    text = f"{SCHEMA_VERSION}|{WORD_PATTERN}|{','.join(languages)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]
