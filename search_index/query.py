"""Queries over one shard's index, one page at a time, after a cursor.

Every query term must match (AND): a word matches its folded form in
`words` (weighted double: exact words rank first) or its stem in any
`stem_<language>`; a CJK run matches as a bigram phrase (or a single
character). Filters (rooms, types, senders, URLs) never add to the score.

Results are totally ordered: by (score, event ID) for `rank`, by
(origin_server_ts, event ID) for `recent`, both descending. A page is the
first `limit` hits strictly after a cursor in that order, so pages neither
repeat nor skip hits as long as the order is stable: for `recent` it always
is; for `rank`, BM25 scores depend on the whole index, so a paginated query
names the searcher generation it started on and keeps reading that snapshot
(`SearchIndex.searcher`).

Tantivy's top-k cuts ties arbitrarily. A page therefore keeps only hits whose
order value is strictly above the lowest value fetched (unless everything was
fetched), and fetches more when that leaves too few.
"""

from __future__ import annotations

from dataclasses import dataclass

import tantivy
from tantivy import Occur, Query

from search_index import schema as f
from search_index.analysis import QueryTerms, bigrams
from search_index.index import SearchIndex

RANK = "rank"
RECENT = "recent"
ORDERS = (RANK, RECENT)

_EXACT_WORD_BOOST = 2.0


@dataclass(frozen=True)
class Scope:
    """Which documents may match: the filter part of a query."""

    rooms: tuple[str, ...]
    types: tuple[str, ...]
    senders: tuple[str, ...] | None = None
    not_senders: tuple[str, ...] = ()
    contains_url: bool | None = None


@dataclass(frozen=True)
class Cursor:
    """The last hit already served: a page starts strictly after it."""

    value: float | int
    event_id: str


@dataclass(frozen=True)
class Hit:
    # The order value: the score for `rank`, origin_server_ts for `recent`.
    value: float | int
    event_id: str
    rank: float


@dataclass(frozen=True)
class Page:
    hits: list[Hit]
    # Nothing in this shard after the last hit.
    exhausted: bool
    # All hits of the query (ignoring the cursor), when asked for.
    count: int | None
    generation: str


def _filter(query: Query) -> Query:
    return Query.const_score_query(query, 0.0)


def text_query(schema: tantivy.Schema, terms: QueryTerms, languages: tuple[str, ...]) -> Query:
    clauses: list[tuple[Occur, Query]] = []
    for term in terms.words:
        options: list[tuple[Occur, Query]] = [(Occur.Should, Query.boost_query(
            Query.term_query(schema, f.WORDS, term.word, index_option="freq"), _EXACT_WORD_BOOST))]
        for lang in languages:
            for stem in term.stems:
                options.append((Occur.Should, Query.term_query(
                    schema, f.stem_field(lang), stem, index_option="freq")))
        clauses.append((Occur.Must, Query.boolean_query(options)))
    for run in terms.cjk:
        if len(run) == 1:
            clauses.append((Occur.Must, Query.term_query(schema, f.CJK1, run, index_option="freq")))
        elif len(run) == 2:
            clauses.append((Occur.Must, Query.term_query(schema, f.CJK2, run, index_option="freq")))
        else:
            clauses.append((Occur.Must, Query.phrase_query(schema, f.CJK2, bigrams(run))))
    return Query.boolean_query(clauses)


def scoped_query(
    schema: tantivy.Schema, terms: QueryTerms, scope: Scope, languages: tuple[str, ...]
) -> Query | None:
    """The whole query, or None when it cannot match anything."""
    if terms.empty or not scope.rooms or not scope.types:
        return None
    if scope.senders is not None and not scope.senders:
        return None
    clauses: list[tuple[Occur, Query]] = [
        (Occur.Must, text_query(schema, terms, languages)),
        (Occur.Must, _filter(Query.term_set_query(schema, f.ROOM_ID, list(scope.rooms)))),
        (Occur.Must, _filter(Query.term_set_query(schema, f.TYPE, list(scope.types)))),
    ]
    if scope.senders is not None:
        clauses.append((Occur.Must, _filter(Query.term_set_query(schema, f.SENDER, list(scope.senders)))))
    if scope.not_senders:
        clauses.append((Occur.MustNot, Query.term_set_query(schema, f.SENDER, list(scope.not_senders))))
    if scope.contains_url is not None:
        clauses.append((Occur.Must, _filter(
            Query.term_query(schema, f.HAS_URL, scope.contains_url, index_option="basic"))))
    return Query.boolean_query(clauses)


def search_page(
    index: SearchIndex,
    terms: QueryTerms,
    scope: Scope,
    *,
    order: str,
    after: Cursor | None,
    limit: int,
    generation: str | None = None,
    skip_hint: int = 0,
    with_count: bool = False,
) -> Page:
    """The first `limit` hits after `after`, in `order`.

    `skip_hint` is how many hits earlier pages served: for `rank` those sort
    before the cursor and must be fetched to be skipped, so the first fetch
    asks for that many more.
    """
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}")
    generation, searcher = index.searcher(generation)
    query = scoped_query(index.schema, terms, scope, index.languages)
    if query is None or limit <= 0:
        return Page([], query is None, 0 if with_count else None, generation)
    count = None
    if order == RECENT:
        bounded = query
        if after is not None:
            bounded = Query.boolean_query([(Occur.Must, query), (Occur.Must, Query.range_query(
                index.schema, f.TS, tantivy.FieldType.Integer, None, int(after.value)))])
        if with_count:
            count = searcher.search(query, limit=1, count=True).count
        ranked = _ordered(searcher, bounded, after, limit, 1, recent=True)
        scores = _scores(searcher, index.schema, query, [eid for _, eid in ranked.hits])
        hits = [Hit(v, eid, scores.get(eid, 0.0)) for v, eid in ranked.hits]
    else:
        if with_count:
            count = searcher.search(query, limit=1, count=True).count
        ranked = _ordered(searcher, query, after, limit, skip_hint + 1, recent=False)
        hits = [Hit(v, eid, float(v)) for v, eid in ranked.hits]
    return Page(hits, ranked.exhausted, count, generation)


@dataclass(frozen=True)
class _Ranked:
    hits: list[tuple[float | int, str]]
    exhausted: bool


def _ordered(
    searcher: tantivy.Searcher, query: Query, after: Cursor | None, limit: int, extra: int,
    *, recent: bool,
) -> _Ranked:
    want = limit + extra
    while True:
        if recent:
            result = searcher.search(query, limit=want, count=False, order_by_field=f.TS)
        else:
            result = searcher.search(query, limit=want, count=False, weight_by_field=f.JITTER)
        fetched = result.hits
        complete = len(fetched) < want
        floor = None if complete or not fetched else fetched[-1][0]
        kept: list[tuple[float | int, str]] = []
        for value, address in fetched:
            if after is not None and value > after.value:
                continue
            if floor is not None and value == floor:
                # Tantivy may have cut this group of ties anywhere.
                continue
            event_id = searcher.doc(address)[f.EVENT_ID][0]
            if after is not None and value == after.value and event_id >= after.event_id:
                continue
            kept.append((value, event_id))
        kept.sort(reverse=True)
        if len(kept) >= limit or complete:
            return _Ranked(kept[:limit], complete and len(kept) <= limit)
        want *= 4


def _scores(
    searcher: tantivy.Searcher, schema: tantivy.Schema, query: Query, event_ids: list[str]
) -> dict[str, float]:
    """The ranked scores of these documents (for `recent` results, which are not ranked)."""
    if not event_ids:
        return {}
    only = Query.boolean_query([
        (Occur.Must, query), (Occur.Must, _filter(Query.term_set_query(schema, f.EVENT_ID, event_ids))),
    ])
    result = searcher.search(only, limit=len(event_ids), count=False, weight_by_field=f.JITTER)
    return {searcher.doc(a)[f.EVENT_ID][0]: float(s) for s, a in result.hits}


def count(index: SearchIndex, terms: QueryTerms, scope: Scope) -> int:
    query = scoped_query(index.schema, terms, scope, index.languages)
    if query is None:
        return 0
    return index.searcher()[1].search(query, limit=1, count=True).count
