"""Strict scorer on the original suite's known failure cases (specs/titan.md §5.9), author-compatible scorer as
the lenient reference, and the reasoning85 suite file itself (structure of specs/titan.md §4a)."""

import json
from collections import Counter

import pytest

from titan_eval.errors import DataError
from titan_eval.suites.scorers import author_score, numbers_to_digits, polarity, strict_score, words
from titan_eval.suites.suite_file import load_suite, slug


def test_no_inside_know_is_not_a_no() -> None:
    assert not strict_score("I know it.", ["no"], "match", "Is the Earth flat?")
    assert not strict_score("I know it is round.", ["no"], "yesno", "Is the Earth flat?")
    assert strict_score("No, it is round.", ["no"], "yesno", "Is the Earth flat?")
    assert author_score("I know it.", ["no"])  # the original scorer credits it


def test_digit_inside_a_longer_number_does_not_match() -> None:
    assert not strict_score("The answer is 16.", ["6"], "match", "What is the atomic number of carbon?")
    assert not strict_score("It is 1.6 or so", ["6"], "match", "q")
    assert strict_score("The answer is 6.", ["6"], "match", "q")
    assert author_score("The answer is 16.", ["6"])


def test_letters_inside_a_word_do_not_match() -> None:
    assert not strict_score("because it shines", ["au"], "match", "What is the chemical symbol for gold?")
    assert strict_score("Its symbol is Au.", ["au"], "match", "What is the chemical symbol for gold?")
    assert author_score("because it shines", ["au"])


def test_yes_no_is_judged_by_the_leading_polarity_word() -> None:
    q = "Is a whale a mammal?"
    assert not strict_score("No, yes it is a mammal.", ["yes"], "yesno", q)
    assert strict_score("Yes. It is not a fish.", ["yes"], "yesno", q)
    assert not strict_score("A whale is a mammal.", ["yes"], "yesno", q)  # no polarity word: a miss
    assert not strict_score("Nothing to say", ["no"], "yesno", q)  # "nothing" is not "no"
    assert strict_score("Nein, das stimmt nicht.", ["no"], "yesno", q)
    assert polarity(words("it is true that x")) == "yes"
    assert polarity(words("one two three four five yes")) is None  # beyond the leading window


def test_number_words_and_digits_match_both_ways() -> None:
    assert strict_score("six", ["6"], "match", "q")
    assert strict_score("It has 6 protons", ["six"], "match", "q")
    assert strict_score("two hundred and six bones", ["206"], "match", "q")
    assert strict_score("twenty-five", ["25"], "match", "q")
    assert not strict_score("sixteen", ["6"], "match", "q")
    assert numbers_to_digits(["one", "two", "three"]) == ["1", "2", "3"]
    assert numbers_to_digits(["one", "thousand", "and", "twenty", "four"]) == ["1024"]
    assert numbers_to_digits(["me", "and", "you"]) == ["me", "and", "you"]


def test_normalisation_and_phrases() -> None:
    assert strict_score("Brasília!", ["brasilia"], "match", "q")
    assert strict_score("H₂O", ["h2o"], "match", "q")
    assert strict_score("x=5", ["x = 5"], "match", "q")
    assert strict_score("The answer is 1,024.", ["1024"], "match", "q")
    assert strict_score("München", ["muenchen"], "match", "q")
    assert strict_score("South America, of course", ["south america"], "match", "q")
    assert not strict_score("America, south of it", ["south america"], "match", "q")


def test_expected_words_echoing_the_question_are_dropped() -> None:
    q = "What is the speed of light (approximately)?"
    assert not strict_score("The speed of light is fast.", ["299", "light"], "match", q)
    assert strict_score("About 299,792 km/s", ["299", "light"], "match", q) is False  # 299792 is one number
    assert strict_score("About 299 thousand km/s", ["299", "light"], "match", q)
    assert strict_score("9", ["9"], "match", "What is 81 divided by 9?")  # every answer echoes: kept


def test_unscorable_items_raise() -> None:
    with pytest.raises(DataError):
        strict_score("yes", ["maybe"], "yesno", "q")
    with pytest.raises(DataError):
        strict_score("x", ["a"], "none", "q")


def test_reasoning85_suite_has_the_original_structure() -> None:
    path, items = load_suite()
    counts = Counter(slug(i.category) for i in items)
    assert len(items) == 85
    assert counts == {"geography": 15, "history_science": 15, "math_algebra": 10, "yes_no_logic": 12,
                      "format_concise": 5, "termination_stress": 20, "consistency": 3, "creative": 5}
    assert all(not i.scored for i in items if i.category == "termination_stress")
    assert all(i.scorer == "keyword" for i in items if i.category == "creative")
    for it in items:  # every scored item is scorable, and no expected answer only echoes the question
        if it.scored:
            strict_score("", it.answers, it.scorer, it.prompt)
            if it.scorer != "yesno":
                asked = words(it.prompt)
                assert any(w and not set(w) <= set(asked) for w in (words(a) for a in it.answers)), it.id
    for line in path.read_text().splitlines():
        fields = set(json.loads(line)) - {"cluster"}  # optional: a paraphrase names its original's id
        assert fields == {"id", "category", "prompt", "answers", "scored", "scorer", "notes"}
    ids = {i.id for i in items}
    assert {i.id: i.cluster for i in items if i.cluster} == {"cons-01": "geo-01", "cons-02": "math-01",
                                                            "cons-03": "yn-04"}
    assert all(i.cluster in ids and f"paraphrase of {i.cluster}" == i.notes for i in items if i.cluster)


def test_bad_suite_lines_name_the_line(tmp_path) -> None:
    bad = tmp_path / "s.jsonl"
    bad.write_text('{"id": "a", "category": "c", "prompt": "p", "answers": [], "scored": true, "scorer": "match", "notes": ""}\n')
    with pytest.raises(DataError, match=r"s.jsonl:1"):
        load_suite(bad)
