"""Answer scorers for generated text: strict (word-level) and author-compatible (substring).

Strict (`strict_score`), applied to the answer only (the text after the think closer):
1. Normalise (`normalise`): German umlauts folded (ä→ae, ö→oe, ü→ue), NFKD with combining marks dropped
   (brasília→brasilia), casefold (ß→ss), subscript/superscript digits to ASCII (H₂O→h2o).
2. Tokenise (`words`): maximal runs of digits (with inner `.`/`,` groups: 3.14, 1,024→1024, German 3,5→3.5) and
   maximal runs of letters; everything else separates. "h2o" → h 2 o on both sides, so it still matches.
3. Number words become digits (`numbers_to_digits`): English zero…million with compounds ("two hundred and six" →
   206, "twenty-five" → 25) and German null…zwölf. Both sides are converted, so "six" ↔ "6".
4. Scorers: `match` / `keyword` — some expected phrase occurs as a contiguous run of whole tokens ("6" does not
   match "16", "au" not "because", "no" not "know"); `yesno` — the answer's leading polarity word (the first
   polarity word among its first `POLARITY_WINDOW` tokens) must carry an expected polarity; no polarity word there
   is a miss. Expected phrases that also occur in the question are dropped before matching (an echo of the
   question cannot show knowledge: "light" in "speed of light", "time" in "a book about time travel"), unless
   every expected phrase occurs there.

Author-compatible (`author_score`): some expected string occurs in the lower-cased text, anywhere (the original
85-suite scorer; specs/titan.md §4a, defects in §5.9).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from titan_eval.errors import DataError

SCORERS = ("match", "keyword", "yesno", "none")
POLARITY_WINDOW = 5

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
_TOKEN = re.compile(r"[0-9]+(?:[.,][0-9]+)*|[^\W\d_]+")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")

UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
TEENS = {w: 10 + i for i, w in enumerate("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
SCALES = {"thousand": 1000, "million": 1_000_000}
GERMAN = {w: i for i, w in enumerate("null eins zwei drei vier fuenf sechs sieben acht neun zehn elf zwoelf".split())}

YES_WORDS = frozenset({"yes", "yeah", "yep", "correct", "true", "ja", "jawohl", "richtig", "stimmt"})
NO_WORDS = frozenset({"no", "nope", "not", "false", "incorrect", "nein", "nicht", "falsch"})


def normalise(text: str) -> str:
    """Umlaut folding, NFKD without combining marks, casefold (see module docstring)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _clean_number(token: str) -> str:
    if _THOUSANDS.fullmatch(token):
        return token.replace(",", "")
    return token.replace(",", ".")


def words(text: str) -> list[str]:
    """Normalised word and number tokens of `text`, number words as digits."""
    raw = [_clean_number(t) if t[0].isdigit() else t for t in _TOKEN.findall(normalise(text))]
    return numbers_to_digits(raw)


def _kind(word: str) -> str | None:
    if word in UNITS:
        return "unit"
    if word in TEENS:
        return "teen"
    if word in TENS:
        return "ten"
    if word == "hundred":
        return "hundred"
    if word in SCALES:
        return "scale"
    return None


# kind of the previous number word → kinds that may follow it inside one number
_FOLLOWS = {
    "unit": {"hundred", "scale"}, "teen": {"hundred", "scale"}, "ten": {"unit", "hundred", "scale"},
    "hundred": {"unit", "teen", "ten", "scale"}, "scale": {"unit", "teen", "ten", "hundred"},
}


def numbers_to_digits(tokens: Sequence[str]) -> list[str]:
    """Replace each run of English number words by its value in digits (German single words too); "and"
    inside a run ("two hundred and six") is absorbed. A word that cannot continue the run ("one two") starts a
    new number."""
    out: list[str] = []
    total = current = 0
    last: str | None = None

    def flush() -> None:
        nonlocal total, current, last
        if last is not None:
            out.append(str(total + current))
        total = current = 0
        last = None

    for i, tok in enumerate(tokens):
        kind = _kind(tok)
        if kind is None:
            nxt = _kind(tokens[i + 1]) if i + 1 < len(tokens) else None
            if tok == "and" and last in ("hundred", "scale") and nxt in ("unit", "teen", "ten"):
                continue
            flush()
            out.append(GERMAN_DIGITS.get(tok, tok))
            continue
        if last is not None and kind not in _FOLLOWS[last]:
            flush()
        if kind == "unit":
            current += UNITS[tok]
        elif kind == "teen":
            current += TEENS[tok]
        elif kind == "ten":
            current += TENS[tok]
        elif kind == "hundred":
            current = max(current, 1) * 100
        else:
            total += max(current, 1) * SCALES[tok]
            current = 0
        last = kind
    flush()
    return out


GERMAN_DIGITS = {w: str(v) for w, v in GERMAN.items()}


def contains_phrase(tokens: Sequence[str], phrase: Sequence[str]) -> bool:
    """True when `phrase` (non-empty) occurs in `tokens` as a contiguous run of whole tokens."""
    n = len(phrase)
    if n == 0:
        return False
    return any(list(tokens[i : i + n]) == list(phrase) for i in range(len(tokens) - n + 1))


def polarity(tokens: Sequence[str], window: int = POLARITY_WINDOW) -> str | None:
    """'yes' / 'no' from the first polarity word among the first `window` tokens, else None."""
    for tok in tokens[:window]:
        if tok in YES_WORDS:
            return "yes"
        if tok in NO_WORDS:
            return "no"
    return None


def usable_answers(answers: Sequence[str], question: str) -> list[list[str]]:
    """Expected phrases as tokens, without those that occur in the question (echoes) — unless every phrase
    does, in which case all are kept (the item cannot tell an echo from an answer; see the suite README)."""
    asked = words(question)
    phrases = [w for w in (words(a) for a in answers) if w]
    fresh = [w for w in phrases if not contains_phrase(asked, w)]
    return fresh or phrases


def strict_score(answer: str, answers: Sequence[str], scorer: str, question: str = "") -> bool:
    """The strict verdict for one generated answer (module docstring)."""
    tokens = words(answer)
    if scorer == "yesno":
        wanted = {polarity(words(a), window=len(a)) for a in answers} - {None}
        if not wanted:
            raise DataError(f"yesno item {question!r}: expected answers {list(answers)} carry no yes/no word")
        return polarity(tokens) in wanted
    if scorer in ("match", "keyword"):
        phrases = usable_answers(answers, question)
        if not phrases:
            raise DataError(f"item {question!r}: no expected answer has a word or number")
        return any(contains_phrase(tokens, p) for p in phrases)
    raise DataError(f"scorer {scorer!r} does not score; known scorers: {', '.join(SCORERS)}")


def author_score(text: str, answers: Sequence[str]) -> bool:
    """The original suite's verdict: some expected string is a substring of the lower-cased text."""
    low = text.lower()
    return any(a.lower() in low for a in answers)
