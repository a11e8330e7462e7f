"""Turning text into index terms, the same way for documents and for queries.

Two kinds of script need two kinds of term:

- Words (Latin, Greek, Cyrillic, … anything written with spaces): tantivy's
  regex tokenizer finds runs of letters, digits and marks; terms are
  lower-cased and ASCII-folded ("Café" → "cafe", "Straße" → "strasse") in the
  `words` field, and additionally stemmed per configured language in the
  `stem_<language>` fields ("running" → "run").
- Chinese, Japanese and Korean have no spaces between words, so a word
  tokenizer would index whole sentences as one term. Their runs are cut here
  into overlapping character bigrams at consecutive positions (`cjk2`) and
  single characters (`cjk1`). A query run of n ≥ 2 characters becomes the
  phrase of its n-1 bigrams, which matches exactly the documents holding that
  run as a substring; one character is a term of `cjk1`. Runs are separated
  by a position gap so a phrase never spans two runs.

We pre-tokenise CJK ourselves (tantivy's `PreTokenizedString`) instead of
using tantivy's n-gram tokenizer because that one n-grams the whole text,
Latin included, and cannot leave gaps between runs.

Text is NFKC-normalised first, so full-width Latin and half-width katakana
match their usual forms.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import tantivy

# The scripts written without spaces between words (after NFKC), as code point ranges.
CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x1100, 0x11FF),    # Hangul Jamo
    (0x2E80, 0x2FDF),    # CJK and Kangxi radicals
    (0x3005, 0x3007),    # 々 〆 〇
    (0x3021, 0x3029),    # Hangzhou numerals
    (0x3038, 0x303B),
    (0x3040, 0x309F),    # Hiragana
    (0x30A0, 0x30FF),    # Katakana (with the prolonged sound mark ー)
    (0x3130, 0x318F),    # Hangul compatibility Jamo
    (0x31F0, 0x31FF),    # Katakana phonetic extensions
    (0x3400, 0x4DBF),    # CJK extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xA960, 0xA97F),    # Hangul Jamo extended A
    (0xAC00, 0xD7FF),    # Hangul syllables, Jamo extended B
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0x20000, 0x3134F),  # CJK extensions B-H and compatibility supplement
)

# The stemmers tantivy has (Snowball), by the name the config uses.
STEM_LANGUAGES = frozenset({
    "arabic", "danish", "dutch", "english", "finnish", "french", "german", "greek",
    "hungarian", "italian", "norwegian", "portuguese", "romanian", "russian", "spanish",
    "swedish", "tamil", "turkish",
})

# Longer "words" are base64 blobs, URLs squashed together and the like.
MAX_WORD_CHARS = 64
# Position gap between two CJK runs: a phrase must never span runs.
RUN_GAP = 2
# A query is cut to this many terms (words plus CJK runs) to bound its cost.
MAX_QUERY_TERMS = 32

WORDS_TOKENIZER = "dendray_words"


def stem_tokenizer(language: str) -> str:
    return f"dendray_stem_{language}"


def _rust_class() -> str:
    return "".join(f"\\u{{{a:X}}}-\\u{{{b:X}}}" for a, b in CJK_RANGES)


def _python_class() -> str:
    return "".join(f"{chr(a)}-{chr(b)}" for a, b in CJK_RANGES)


# Letters, digits and marks that are not CJK, for tantivy's (Rust) regex tokenizer.
WORD_PATTERN = f"[\\p{{L}}\\p{{N}}\\p{{M}}--[{_rust_class()}]]+"
_CJK_RUN = re.compile(f"[{_python_class()}]+")
# Python's view of a word, to find the words of a result to highlight.
_SURFACE_WORD = re.compile(f"(?:(?![{_python_class()}])[^\\W_])+")


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def check_languages(languages: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The configured stemming languages, checked; raises ValueError for an unknown one."""
    out = []
    for lang in languages:
        if not isinstance(lang, str) or lang.lower() not in STEM_LANGUAGES:
            raise ValueError(
                f"unknown search language {lang!r} (known: {', '.join(sorted(STEM_LANGUAGES))})"
            )
        if lang.lower() not in out:
            out.append(lang.lower())
    return tuple(out)


@cache
def words_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(WORD_PATTERN))
        .filter(tantivy.Filter.remove_long(MAX_WORD_CHARS))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


@cache
def stem_analyzer(language: str) -> tantivy.TextAnalyzer:
    # Stem before folding: Snowball stemmers know their language's accents.
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(WORD_PATTERN))
        .filter(tantivy.Filter.remove_long(MAX_WORD_CHARS))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.stemmer(language))
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


def register_analyzers(index: tantivy.Index, languages: tuple[str, ...]) -> None:
    """Every opened index needs its analyzers registered again (tantivy does not store them)."""
    index.register_tokenizer(WORDS_TOKENIZER, words_analyzer())
    for lang in languages:
        index.register_tokenizer(stem_tokenizer(lang), stem_analyzer(lang))


# --- CJK ---------------------------------------------------------------------------


def cjk_runs(text: str) -> list[str]:
    return _CJK_RUN.findall(text)


def cjk_tokens(runs: list[str]) -> tuple[list[tantivy.Token], list[tantivy.Token]]:
    """(bigram tokens, unigram tokens) of the runs, with positions for phrase queries.

    A run of one character has no bigram; it is still found through `cjk1`.
    """
    bigrams: list[tantivy.Token] = []
    unigrams: list[tantivy.Token] = []
    pos = 0
    offset = 0
    for run in runs:
        for i in range(len(run) - 1):
            bigrams.append(tantivy.Token(run[i:i + 2], pos + i, offset + i, offset + i + 2))
        for i, ch in enumerate(run):
            unigrams.append(tantivy.Token(ch, pos + i, offset + i, offset + i + 1))
        pos += len(run) + RUN_GAP
        offset += len(run)
    return bigrams, unigrams


def bigrams(run: str) -> list[str]:
    return [run[i:i + 2] for i in range(len(run) - 1)]


# --- queries -------------------------------------------------------------------------


@dataclass(frozen=True)
class WordTerm:
    """One query word: its folded form and its stem in each language."""

    word: str
    stems: tuple[str, ...]


@dataclass(frozen=True)
class QueryTerms:
    words: tuple[WordTerm, ...]
    cjk: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.words and not self.cjk


def parse_terms(text: str, languages: tuple[str, ...]) -> QueryTerms:
    """The terms a search string asks for; every one of them must match."""
    text = normalise(text)
    runs = tuple(dict.fromkeys(cjk_runs(text)))
    rest = _CJK_RUN.sub(" ", text)
    words = words_analyzer().analyze(rest)
    # The same tokenizer and length filter: the i-th stem belongs to the i-th word.
    stems = [stem_analyzer(lang).analyze(rest) for lang in languages]
    terms: dict[str, WordTerm] = {}
    for i, word in enumerate(words):
        terms.setdefault(word, WordTerm(word, tuple(dict.fromkeys(s[i] for s in stems))))
    kept_words = tuple(terms.values())[:MAX_QUERY_TERMS]
    return QueryTerms(kept_words, runs[: max(0, MAX_QUERY_TERMS - len(kept_words))])


def highlights(terms: QueryTerms, texts: list[str], languages: tuple[str, ...]) -> list[str]:
    """Words to highlight: the query's own, and each word of the texts that matched one.

    Stemming makes "run" find "running": the client needs "running" to
    highlight it, so every word of the results is checked against the query's
    folded words and stems.
    """
    wanted_words = {t.word for t in terms.words}
    wanted_stems = {s for t in terms.words for s in t.stems}
    found: dict[str, None] = {}
    for run in terms.cjk:
        found[run] = None
    if wanted_words:
        for text in texts:
            for surface in _SURFACE_WORD.findall(normalise(text)):
                folded = words_analyzer().analyze(surface)
                if not folded:
                    continue
                if folded[0] in wanted_words or any(
                    (stem_analyzer(lang).analyze(surface) or [""])[0] in wanted_stems
                    for lang in languages
                ):
                    found[surface] = None
    for t in terms.words:
        found.setdefault(t.word, None)
    return list(found)
