"""Benchmark: the search index over 1,000,000 messages — indexing throughput, query latency.

    .venv/bin/python bench/search_bench.py [--messages 1000000] [--rooms 2000] [--queries 300]

Indexes synthetic messages directly through `search_index` (no HTTP, no
database: the cost of the index itself, on one writer thread as a search
shard runs it): 80% English sentences drawn from a Zipf-like vocabulary with
inflected forms, 10% Chinese and 10% Japanese sentences built from common
words. Commits every 50,000 messages, as a catching-up shard does.

Then it times queries the way `/search` runs them on a shard: the user's
rooms (50 of the rooms) as a filter, the first page of 10, with the count:

- `word`: one English word; `stemmed`: an inflected form ("running");
  `two words`: both must match; `cjk`: a 2-4 character Chinese/Japanese
  substring; each ranked (BM25), and `recent` (newest first) for one word;
- `page 5`: the fifth page of a ranked one-word query (cursor after 40 hits).

Prints one table (markdown) with the indexing rate and p50/p99 per query kind.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from search_index.analysis import parse_terms
from search_index.documents import IndexableEvent
from search_index.index import SearchIndex
from search_index.query import RANK, RECENT, Cursor, Scope, search_page

LANGUAGES = ("english",)
COMMIT_EVERY = 50_000

STEMS = (
    "run walk talk meet plan build test deploy merge review write read call ask answer "
    "fix break cook order travel book move play watch listen share send open close start "
    "finish help need want like love hate learn teach work rest sleep wait check update "
    "search find lose keep show hide join leave invite ship launch release measure"
).split()
NOUNS = (
    "server room message team project meeting lunch dinner coffee train flight hotel "
    "ticket budget report release bug feature test database index query cluster node "
    "actor shard queue token key phone laptop screen window door garden kitchen city "
    "river mountain beach weather rain snow sun music film book game match goal week "
    "weekend morning evening night friday monday holiday birthday party gift idea"
).split()
FILLER = (
    "the a an and or but so to of in on at for with from about after before again "
    "today tomorrow yesterday now later maybe really very quite just still already "
    "we you they i he she it this that there here please thanks ok great good bad new old"
).split()
CHINESE = (
    "我们 明天 北京 上海 会议 项目 服务器 数据库 测试 发布 周末 天气 咖啡 午饭 晚饭 "
    "火车 飞机 酒店 问题 功能 团队 报告 预算 朋友 电影 音乐 比赛 学习 工作 休息"
).split()
JAPANESE = (
    "東京 大阪 京都 会議 明日 今日 週末 天気 電車 飛行機 ホテル サーバー データベース "
    "テスト リリース プロジェクト チーム 予算 友達 映画 音楽 試合 勉強 仕事 休み "
    "待ち合わせ よろしく お願い します でした ましょう"
).split()
INFLECT = ("", "s", "ing", "ed")


_CUMULATIVE: dict[int, list[float]] = {}


def zipf(words: list[str], rng: random.Random, k: int) -> list[str]:
    cum = _CUMULATIVE.get(id(words))
    if cum is None:
        cum = _CUMULATIVE[id(words)] = list(itertools.accumulate(1 / (i + 1) for i in range(len(words))))
    return rng.choices(words, cum_weights=cum, k=k)


def inflect(stem: str, suffix: str) -> str:
    if suffix == "ing" and stem.endswith("e"):
        return stem[:-1] + "ing"
    if suffix == "ing" and stem in ("run", "plan", "ship", "stop"):
        return stem + stem[-1] + "ing"
    if suffix == "ed" and stem.endswith("e"):
        return stem + "d"
    return stem + suffix


def sentence(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.1:
        return "".join(zipf(CHINESE, rng, rng.randint(3, 8)))
    if roll < 0.2:
        return "".join(zipf(JAPANESE, rng, rng.randint(3, 8)))
    words = zipf(FILLER, rng, rng.randint(3, 9))
    words += [inflect(w, rng.choice(INFLECT)) for w in zipf(STEMS, rng, rng.randint(1, 3))]
    words += zipf(NOUNS, rng, rng.randint(1, 3))
    rng.shuffle(words)
    return " ".join(words)


def index_messages(index: SearchIndex, count: int, rooms: list[str], rng: random.Random) -> float:
    """Index `count` messages; returns the seconds spent indexing (not making them up)."""
    spent = 0.0
    for first in range(1, count + 1, COMMIT_EVERY):
        last = min(first + COMMIT_EVERY - 1, count)
        events = [
            IndexableEvent(
                f"$bench{i:08d}", rooms[int(rng.paretovariate(1.2)) % len(rooms)],
                f"@user{rng.randrange(5000)}:bench", "m.room.message",
                1_700_000_000_000 + i * 1000, 0, i, {"msgtype": "m.text", "body": sentence(rng)},
            )
            for i in range(first, last + 1)
        ]
        start = time.perf_counter()
        for event in events:
            index.add(event)
        index.commit({0: last})
        spent += time.perf_counter() - start
        print(f"  indexed {last:>9,} messages  ({last / spent:,.0f}/s)", flush=True)
    return spent


def timed(fn: object, runs: list[tuple]) -> list[float]:
    out = []
    for args in runs:
        start = time.perf_counter()
        fn(*args)  # type: ignore[operator]
        out.append((time.perf_counter() - start) * 1000)
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rooms", type=int, default=2000)
    parser.add_argument("--user-rooms", type=int, default=50)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--dir", default=None, help="index folder (default: a temp folder)")
    args = parser.parse_args()

    rng = random.Random(42)
    folder = Path(args.dir or tempfile.mkdtemp(prefix="dendray-search-bench-")) / "index"
    rooms = [f"!room{i}:bench" for i in range(args.rooms)]
    print(f"indexing {args.messages:,} messages into {folder}", flush=True)
    index = SearchIndex.open(folder, LANGUAGES, "bench")
    seconds = index_messages(index, args.messages, rooms, rng)
    index.close()
    size_mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
    index = SearchIndex.open(folder, LANGUAGES, "bench")

    # The user's rooms: the busiest few and a random rest, as a real user has.
    scope = Scope(rooms=tuple(rooms[:10] + rng.sample(rooms[10:], args.user_rooms - 10)),
                  types=("m.room.message",))

    def run(text: str, order: str, pages: int = 1) -> int:
        terms = parse_terms(text, LANGUAGES)
        after, generation, served = None, None, 0
        for _ in range(pages):
            page = search_page(index, terms, scope, order=order, after=after, limit=10,
                               generation=generation, skip_hint=served, with_count=True)
            if not page.hits:
                return 0
            after = Cursor(page.hits[-1].value, page.hits[-1].event_id)
            generation, served = page.generation, served + len(page.hits)
        return served

    def words(n: int) -> list[str]:
        return [" ".join(zipf(NOUNS + STEMS, rng, n)) for _ in range(args.queries)]

    kinds = {
        "word (rank)": [(w, RANK) for w in words(1)],
        "word (recent)": [(w, RECENT) for w in words(1)],
        "stemmed word (rank)": [(inflect(rng.choice(STEMS), "ing"), RANK)
                                for _ in range(args.queries)],
        "two words (rank)": [(w, RANK) for w in words(2)],
        "CJK substring (rank)": [
            ((lambda s: s[:rng.randint(2, 4)])(rng.choice(CHINESE + JAPANESE) +
                                               rng.choice(CHINESE + JAPANESE)), RANK)
            for _ in range(args.queries)],
        "word, 5th page (rank)": [(w, RANK, 5) for w in words(1)],
    }
    for runs in kinds.values():  # warm the page cache once
        timed(run, runs[:20])
    rows = []
    for name, runs in kinds.items():
        latencies = timed(run, runs)
        rows.append((name, statistics.median(latencies), percentile(latencies, 99)))
    index.close()

    print()
    print(f"- machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"- messages: {args.messages:,} in {args.rooms} rooms; queries scoped to "
          f"{args.user_rooms} rooms, {args.queries} per kind, first page of 10 with the count")
    print(f"- indexing: {seconds:.0f} s, **{args.messages / seconds:,.0f} messages/s** "
          f"(one writer thread); index size {size_mb:,.0f} MB")
    print()
    print("| query | p50 (ms) | p99 (ms) |")
    print("|---|---:|---:|")
    for name, p50, p99 in rows:
        print(f"| {name} | {p50:.2f} | {p99:.2f} |")
    if args.dir is None:
        shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
