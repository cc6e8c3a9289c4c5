"""The message catalogue (streams/words.py): every sentence in both languages with the same
blanks to fill, every rule of the bundled set in the officers' words, and every key the code and
the board's page ask for present, so that no sentence falls back to a key on a wall screen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streams.agents.board import page_in
from streams.rules.ruleset import DEFAULT_RULESET, load_ruleset
from streams.words import CATALOGUE, LANGUAGES, UnknownWords, placeholders, say

ROOT = Path(__file__).parents[2]
PAGE = ROOT / "streams" / "web" / "board.html"


def test_every_sentence_is_in_every_language_with_the_same_blanks() -> None:
    for key, texts in CATALOGUE.items():
        assert set(texts) == set(LANGUAGES), key
        assert placeholders(texts["zh"]) == placeholders(texts["en"]), key
        assert texts["en"].strip(), key


def test_chinese_is_not_english_copied() -> None:
    copied = [k for k, t in CATALOGUE.items() if t["zh"] == t["en"] and re.search("[a-z]", t["en"])]
    assert not copied


def test_every_rule_of_the_bundled_set_has_its_words() -> None:
    for rule in load_ruleset(DEFAULT_RULESET).rules:
        for part in ("name", "why", "release"):
            assert f"rule.{rule.id}.{part}" in CATALOGUE


def test_every_key_the_code_says_is_in_the_catalogue() -> None:
    said = set()
    for source in (ROOT / "streams").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        said |= set(re.findall(r'say\(\s*[\w.]+,\s*"([\w.]+)"', text))
    assert said, "no say() found: the pattern is stale"
    assert not said - set(CATALOGUE)
    with pytest.raises(UnknownWords):
        say("zh", "no.such.key")


def test_every_label_the_page_asks_for_is_in_the_catalogue() -> None:
    html = PAGE.read_text(encoding="utf-8")
    asked = set(re.findall(r'data-t="([\w.]+)"', html)) | set(re.findall(r'\bt\("([\w.]+)"', html))
    asked |= {f"board.action.{a}" for a in ("released_after_check", "denied", "turned_away")}
    asked |= {f"board.outcome.{o}" for o in ("release", "hold", "deny")}
    asked |= {f"severity.{s}" for s in ("critical", "warning", "info")}
    assert len(asked) > 40
    assert not asked - set(CATALOGUE)


@pytest.mark.parametrize(("language", "title"), [("zh", "门卫哨兵"), ("en", "Gate Sentinel")])
def test_the_page_is_served_with_its_labels_in_the_parks_language(
    language: str, title: str
) -> None:
    page = page_in(language)  # type: ignore[arg-type]
    assert f'<html lang="{language}">' in page
    assert "/*WORDS*/" not in page and title in page
