"""One search shard's index folder: the tantivy index, its one writer, its searchers.

The folder holds the tantivy files and a marker (`dendray-index.json`):

- `index_id`: a random ID given when the index was created (or emptied). The
  owner records it next to its watermark in PostgreSQL; an index whose ID
  the database does not know (deleted folder, a folder from another
  database, a rebuild) starts again from an empty watermark.
- `fingerprint` and `owner`: the schema/analyzers and the shard layout it was
  built for. When either differs the folder is recreated from scratch.
- `pending`: per writer, the stream position the next commit will cover,
  written (and synced) *before* that commit, so the index never holds an
  event past it. Events up to it may already be in the index while the
  watermark in PostgreSQL is older (a crash, or a failed save, between the
  two): they are re-added with replace semantics (delete the event ID, then
  add); everything past it gets a plain add, about 40% faster.

Writes (`add`, `delete`, `commit`, `reset`) must come from one thread at a
time; searches may run on any thread. Each commit publishes a new searcher
"generation"; recent generations stay available so a paginated query can
keep reading the same snapshot (stable scores, no repeats or skips).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import tantivy

from search_index import schema as f
from search_index.analysis import check_languages, register_analyzers
from search_index.documents import IndexableEvent, to_document

MARKER = "dendray-index.json"
# One indexing thread and a modest heap: an actor shares its node with many others.
WRITER_HEAP_BYTES = 48_000_000
WRITER_THREADS = 1
# Searcher generations kept for paginated queries.
KEPT_GENERATIONS = 8


class IndexFolderError(RuntimeError):
    """The folder holds something that is not a dendray index; refuse to touch it."""


class SearchIndex:
    def __init__(
        self, path: Path, languages: tuple[str, ...], index: tantivy.Index, marker: dict[str, Any],
        created: bool,
    ) -> None:
        self.path = path
        self.languages = languages
        self.schema = index.schema
        self._index = index
        self._marker = marker
        self.created = created
        self._horizon = {int(w): int(p) for w, p in marker.get("pending", {}).items()}
        self._writer = index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=WRITER_THREADS)
        self._lock = threading.Lock()
        self._incarnation = secrets.token_hex(4)
        self._serial = 0
        self._searchers: OrderedDict[str, tantivy.Searcher] = OrderedDict()
        self._publish()

    # --- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, languages: list[str] | tuple[str, ...], owner: str) -> SearchIndex:
        """Open the index in `path`, or create it (replacing one built for another layout)."""
        path = Path(path)
        langs = check_languages(languages)
        fp = f.fingerprint(langs)
        marker = _read_marker(path)
        usable = (
            marker is not None
            and marker.get("fingerprint") == fp
            and marker.get("owner") == owner
            and tantivy.Index.exists(str(path))
        )
        if usable:
            assert marker is not None
            index = tantivy.Index.open(str(path))
            created = False
        else:
            _clear_folder(path)
            index = tantivy.Index(f.build_schema(langs), path=str(path), reuse=False)
            marker = {"index_id": _new_id(), "fingerprint": fp, "owner": owner, "pending": {}}
            _write_marker(path, marker)
            created = True
        index.config_reader(reload_policy="Manual")
        register_analyzers(index, langs)
        return cls(path, langs, index, marker, created)

    @property
    def index_id(self) -> str:
        return str(self._marker["index_id"])

    # --- writing (one thread) --------------------------------------------------------

    def add(self, event: IndexableEvent) -> bool:
        """Index `event` (if it has searchable text); True when a document was added."""
        doc = to_document(event, self.languages)
        if doc is None:
            return False
        if event.stream_pos <= self._horizon.get(event.writer, 0):
            # Perhaps already committed before a crash: never index an event twice.
            self._writer.delete_documents_by_term(f.EVENT_ID, event.event_id)
        self._writer.add_document(doc)
        return True

    def delete(self, event_id: str) -> None:
        self._writer.delete_documents_by_term(f.EVENT_ID, event_id)

    def commit(self, positions: dict[int, int] | None = None) -> None:
        """Make everything added so far durable and searchable.

        `positions` (per writer) is what the commit covers; it is written to
        the marker first, so after a crash we know what may be in the index.
        """
        if positions:
            pending = {**self._marker.get("pending", {}),
                       **{str(w): int(p) for w, p in positions.items()}}
            self._marker = {**self._marker, "pending": pending}
            _write_marker(self.path, self._marker)
            self._horizon = {int(w): int(p) for w, p in pending.items()}
        self._writer.commit()
        self._publish()

    def rollback(self) -> None:
        """Drop everything added or deleted since the last commit."""
        self._writer.rollback()

    def reset(self) -> str:
        """Empty the index under a new ID (a rebuild); returns the new ID."""
        self._writer.delete_all_documents()
        self._writer.commit()
        self._horizon = {}
        self._marker = {**self._marker, "index_id": _new_id(), "pending": {}}
        _write_marker(self.path, self._marker)
        self._publish()
        return self.index_id

    def close(self) -> None:
        """Finish merges and release the folder's writer lock (the index is unusable after)."""
        self._writer.wait_merging_threads()
        del self._writer

    # --- reading (any thread) ----------------------------------------------------------

    def _publish(self) -> None:
        self._index.reload()
        searcher = self._index.searcher()
        with self._lock:
            self._serial += 1
            self._searchers[f"{self._incarnation}.{self._serial}"] = searcher
            while len(self._searchers) > KEPT_GENERATIONS:
                self._searchers.popitem(last=False)

    def searcher(self, generation: str | None = None) -> tuple[str, tantivy.Searcher]:
        """The searcher of `generation` if still kept, else the newest: (generation, searcher)."""
        with self._lock:
            if generation is not None and generation in self._searchers:
                return generation, self._searchers[generation]
            newest = next(reversed(self._searchers))
            return newest, self._searchers[newest]

    def num_docs(self) -> int:
        return self.searcher()[1].num_docs


def _new_id() -> str:
    return secrets.token_hex(12)


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) and isinstance(value.get("index_id"), str) else None


def _write_marker(path: Path, marker: dict[str, Any]) -> None:
    """Replace the marker atomically and durably (write, fsync, rename, fsync the folder)."""
    tmp = path / (MARKER + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(marker, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path / MARKER)
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _clear_folder(path: Path) -> None:
    """Make `path` an empty folder, but only delete what is recognisably an index."""
    if path.exists():
        entries = list(path.iterdir())
        ours = {MARKER, "meta.json"} & {e.name for e in entries}
        if entries and not ours:
            raise IndexFolderError(f"{path} is not empty and holds no search index; not touching it")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
