"""The index folder: creating, reopening, replacing, and queries page by page."""

from __future__ import annotations

from pathlib import Path

import pytest

from search_index.analysis import parse_terms
from search_index.documents import IndexableEvent, searchable_text, to_document
from search_index.index import MARKER, IndexFolderError, SearchIndex
from search_index.query import RANK, RECENT, Cursor, Scope, search_page

EN = ("english",)
ROOM = "!room:test"
SCOPE = Scope(rooms=(ROOM,), types=("m.room.message", "m.room.name", "m.room.topic"))


def message(i: int, body: str, *, room: str = ROOM, ts: int | None = None, sender: str = "@a:test",
            writer: int = 0, **content: object) -> IndexableEvent:
    return IndexableEvent(f"$e{i:05d}", room, sender, "m.room.message",
                          1_000 + i if ts is None else ts, writer, i,
                          {"msgtype": "m.text", "body": body, **content})


def ids(page) -> list[str]:
    return [h.event_id for h in page.hits]


def find(index: SearchIndex, text: str, *, order: str = RANK, scope: Scope = SCOPE,
         limit: int = 50) -> list[str]:
    return ids(search_page(index, parse_terms(text, index.languages), scope, order=order,
                           after=None, limit=limit))


@pytest.fixture
def index(tmp_path: Path):
    idx = SearchIndex.open(tmp_path / "0", EN, "0/1")
    yield idx
    idx.close()


def test_searchable_text_of_each_type() -> None:
    assert searchable_text("m.room.message", {"body": "hi"}) == "hi"
    assert searchable_text("m.room.name", {"name": "Lounge"}) == "Lounge"
    topic = {"topic": "Cats", "m.topic": {"m.text": [
        {"body": "<b>Cats</b>", "mimetype": "text/html"}, {"body": "Cats and dogs"}]}}
    assert searchable_text("m.room.topic", topic) == "Cats\nCats and dogs"
    assert searchable_text("m.room.message", {"body": 5}) is None
    assert searchable_text("m.room.message", {"body": "   "}) is None
    encrypted = IndexableEvent("$x", ROOM, "@a:test", "m.room.encrypted", 1, 0, 1,
                               {"ciphertext": "secret words", "body": "secret words"})
    assert to_document(encrypted, EN) is None


def test_stemmed_accented_and_cjk_matches(index: SearchIndex) -> None:
    texts = ["I was running home", "we run fast", "東京都庁に行きます", "東京 京都",
             "Un café crème", "我们明天在北京见面", "서울에서 만나요", "nothing here"]
    for i, t in enumerate(texts):
        index.add(message(i, t))
    index.commit({0: len(texts)})
    assert set(find(index, "run")) == {"$e00000", "$e00001"}
    assert find(index, "running")[0] == "$e00000"  # the exact word ranks first
    assert find(index, "京都庁") == ["$e00002"]
    # "東京都" would span the two runs of "東京 京都": never a match across runs.
    assert find(index, "東京都") == ["$e00002"]
    assert find(index, "北京") == ["$e00005"]
    assert set(find(index, "京")) == {"$e00002", "$e00003", "$e00005"}
    assert find(index, "서울") == ["$e00006"]
    assert find(index, "cafe CREME") == ["$e00004"]
    assert find(index, "run nothing") == []


def test_scope_filters_rooms_senders_types_and_urls(index: SearchIndex) -> None:
    index.add(message(1, "cat picture", url="mxc://x/y", sender="@b:test"))
    index.add(message(2, "cat text"))
    index.add(message(3, "cat elsewhere", room="!other:test"))
    index.add(IndexableEvent("$name", ROOM, "@a:test", "m.room.name", 5, 0, 4, {"name": "cat room"}))
    index.commit({0: 4})
    assert set(find(index, "cat")) == {"$e00001", "$e00002", "$name"}
    only_b = Scope(rooms=(ROOM,), types=SCOPE.types, senders=("@b:test",))
    assert find(index, "cat", scope=only_b) == ["$e00001"]
    not_b = Scope(rooms=(ROOM,), types=SCOPE.types, not_senders=("@b:test",))
    assert set(find(index, "cat", scope=not_b)) == {"$e00002", "$name"}
    names = Scope(rooms=(ROOM,), types=("m.room.name",))
    assert find(index, "cat", scope=names) == ["$name"]
    urls = Scope(rooms=(ROOM,), types=SCOPE.types, contains_url=True)
    assert find(index, "cat", scope=urls) == ["$e00001"]
    assert find(index, "cat", scope=Scope(rooms=(), types=SCOPE.types)) == []


def paged(index: SearchIndex, text: str, order: str, limit: int) -> list[str]:
    terms = parse_terms(text, index.languages)
    seen: list[str] = []
    after, generation = None, None
    while True:
        page = search_page(index, terms, SCOPE, order=order, after=after, limit=limit,
                           generation=generation, skip_hint=len(seen))
        seen += ids(page)
        generation = page.generation
        if page.exhausted:
            return seen
        after = Cursor(page.hits[-1].value, page.hits[-1].event_id)


@pytest.mark.parametrize("order", [RANK, RECENT])
def test_pages_neither_repeat_nor_skip_even_with_ties(index: SearchIndex, order: str) -> None:
    # Identical messages at identical times: the worst case for ties.
    for i in range(120):
        index.add(message(i, "ok" if i % 2 else "ok ok ok", ts=5_000 + i // 10))
    index.commit({0: 120})
    full = find(index, "ok", order=order, limit=500)
    assert len(full) == 120
    for limit in (1, 7, 50):
        assert paged(index, "ok", order, limit) == full
    if order == RECENT:
        times = [int(e[2:]) // 10 for e in full]
        assert times == sorted(times, reverse=True)


def test_a_kept_generation_keeps_ranked_pages_stable(index: SearchIndex) -> None:
    for i in range(30):
        index.add(message(i, "apple " * (1 + i % 5)))
    index.commit({0: 30})
    terms = parse_terms("apple", EN)
    first = search_page(index, terms, SCOPE, order=RANK, after=None, limit=10)
    # New documents change every score; the old generation still answers the same.
    for i in range(30, 60):
        index.add(message(i, "apple pie"))
    index.commit({0: 60})
    after = Cursor(first.hits[-1].value, first.hits[-1].event_id)
    again = search_page(index, terms, SCOPE, order=RANK, after=None, limit=30,
                        generation=first.generation)
    rest = search_page(index, terms, SCOPE, order=RANK, after=after, limit=30,
                       generation=first.generation, skip_hint=10)
    assert ids(again) == ids(first) + ids(rest)
    assert len(ids(again)) == 30
    assert all(int(e[2:]) < 30 for e in ids(again))


def test_count_and_rank_of_recent_results(index: SearchIndex) -> None:
    for i in range(5):
        index.add(message(i, "tea " * (i + 1)))
    index.commit({0: 5})
    page = search_page(index, parse_terms("tea", EN), SCOPE, order=RECENT, after=None, limit=2,
                       with_count=True)
    assert page.count == 5
    assert ids(page) == ["$e00004", "$e00003"]
    assert all(h.rank > 0 for h in page.hits)


def test_reopening_keeps_the_index_and_a_layout_change_recreates_it(tmp_path: Path) -> None:
    path = tmp_path / "s"
    idx = SearchIndex.open(path, EN, "0/1")
    first_id = idx.index_id
    idx.add(message(1, "hello"))
    idx.commit({0: 1})
    idx.close()
    again = SearchIndex.open(path, EN, "0/1")
    assert (again.index_id, again.created, again.num_docs()) == (first_id, False, 1)
    again.close()
    other_layout = SearchIndex.open(path, EN, "0/2")
    assert other_layout.created and other_layout.index_id != first_id
    assert other_layout.num_docs() == 0
    other_layout.close()
    other_langs = SearchIndex.open(path, ("english", "german"), "0/2")
    assert other_langs.created and other_langs.num_docs() == 0
    other_langs.close()


def test_a_deleted_marker_means_a_new_index(tmp_path: Path) -> None:
    path = tmp_path / "s"
    idx = SearchIndex.open(path, EN, "0/1")
    idx.add(message(1, "hello"))
    idx.commit({0: 1})
    idx.close()
    (path / MARKER).unlink()
    fresh = SearchIndex.open(path, EN, "0/1")
    assert fresh.created and fresh.num_docs() == 0
    fresh.close()


def test_a_foreign_folder_is_never_wiped(tmp_path: Path) -> None:
    path = tmp_path / "s"
    path.mkdir()
    (path / "thesis.tex").write_text("precious")
    with pytest.raises(IndexFolderError):
        SearchIndex.open(path, EN, "0/1")
    assert (path / "thesis.tex").read_text() == "precious"


def test_events_up_to_the_pending_positions_are_replaced_not_duplicated(tmp_path: Path) -> None:
    path = tmp_path / "s"
    idx = SearchIndex.open(path, EN, "0/1")
    for i in range(1, 4):
        idx.add(message(i, "replay me"))
    idx.commit({0: 3})
    idx.close()
    # As after a crash before the watermark was saved: the feeder replays 1..5.
    again = SearchIndex.open(path, EN, "0/1")
    for i in range(1, 6):
        again.add(message(i, "replay me"))
    again.commit({0: 5})
    assert sorted(find(again, "replay")) == [f"$e{i:05d}" for i in range(1, 6)]
    again.close()


def test_delete_rollback_and_reset(index: SearchIndex) -> None:
    index.add(message(1, "keep"))
    index.add(message(2, "gone"))
    index.commit({0: 2})
    index.delete("$e00002")
    index.add(message(3, "never committed"))
    index.rollback()
    assert set(find(index, "keep")) == {"$e00001"} and find(index, "gone") == ["$e00002"]
    index.delete("$e00002")
    index.commit({0: 2})
    assert find(index, "gone") == []
    old = index.index_id
    assert index.reset() != old
    assert index.num_docs() == 0
