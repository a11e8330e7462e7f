"""Terms from text: words, stems, CJK runs, and what to highlight."""

from __future__ import annotations

import pytest

from search_index.analysis import (
    bigrams,
    check_languages,
    cjk_runs,
    cjk_tokens,
    highlights,
    parse_terms,
)

EN = ("english",)


def test_words_are_folded_and_stemmed() -> None:
    terms = parse_terms("Running CAFÉ Straße", EN)
    assert [(t.word, t.stems) for t in terms.words] == [
        ("running", ("run",)), ("cafe", ("cafe",)), ("strasse", ("strasse",)),
    ]
    assert terms.cjk == ()


def test_full_width_latin_is_normalised() -> None:
    assert [t.word for t in parse_terms("ＭＡＴＲＩＸ", EN).words] == ["matrix"]


def test_cjk_runs_are_split_from_words() -> None:
    terms = parse_terms("meet at 東京駅 or ソウル역 tomorrow", EN)
    assert [t.word for t in terms.words] == ["meet", "at", "or", "tomorrow"]
    assert terms.cjk == ("東京駅", "ソウル역")


def test_repeated_terms_count_once_and_punctuation_is_no_term() -> None:
    assert [t.word for t in parse_terms("ok OK ok!", EN).words] == ["ok"]
    assert parse_terms("?! ... ---", EN).empty


def test_cjk_tokens_leave_a_gap_between_runs() -> None:
    runs = cjk_runs("東京 and 京都")
    assert runs == ["東京", "京都"]
    pairs, singles = cjk_tokens(runs)
    assert [(t.text, t.position) for t in pairs] == [("東京", 0), ("京都", 4)]
    assert [t.text for t in singles] == ["東", "京", "京", "都"]
    assert bigrams("東京都庁") == ["東京", "京都", "都庁"]


def test_several_stemming_languages() -> None:
    terms = parse_terms("chevaux running", ("english", "french"))
    assert terms.words[0].stems == ("chevaux", "cheval")
    assert terms.words[1].stems == ("run", "running")


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="klingon"):
        check_languages(["english", "klingon"])
    assert check_languages(["English", "english"]) == ("english",)


def test_highlights_name_the_matching_words_of_the_results() -> None:
    terms = parse_terms("run 会議", EN)
    found = highlights(terms, ["Running late for the 会議室", "the runner runs"], EN)
    assert "Running" in found and "runs" in found and "run" in found
    assert "会議" in found
    assert "late" not in found and "runner" not in found
