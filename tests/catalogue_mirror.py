"""Tiny local Hub mirrors for catalogue-task tests (`hub_mirror` layout: DIR/<dataset_path>/<name or default>/
<split>.jsonl), written in the column layouts of the real Hub datasets the lm-eval 0.4.13 YAMLs read:
piqa (baber/piqa: goal, sol1, sol2, label), lambada_openai (EleutherAI/lambada_openai: text), wikitext
(EleutherAI/wikitext_document_level, wikitext-2-raw-v1: page, raw wikitext tokenisation with ` @-@ ` and ` , `) and
gsm8k (openai/gsm8k, main: question, answer ending in `#### N`)."""

from __future__ import annotations

import json
import random
from pathlib import Path

PIQA = [
    {"goal": "How do I keep bread fresh?", "sol1": "Store it in a sealed bag.", "sol2": "Leave it in the sun.",
     "label": 0},
    {"goal": "To dry wet shoes,", "sol1": "fill them with ice.", "sol2": "stuff them with newspaper.", "label": 1},
    {"goal": "Open a stuck jar lid", "sol1": "run the lid under hot water", "sol2": "put the jar in the freezer",
     "label": 0},
    {"goal": "Sharpen a pencil", "sol1": "rub it on a pillow", "sol2": "use a pencil sharpener", "label": 1},
]
LAMBADA = [
    "She opened the old wooden box and found a letter written by her grandmother",
    "The kids ran to the window when they heard the bells of the ice cream truck",
    "After the long winter the farmers finally planted their seeds in the warm spring soil",
    "He checked the map twice before he turned left onto the narrow mountain road",
    "The orchestra tuned their instruments while the conductor waited calmly at the podium",
    "When the storm ended the fishermen pulled their boats back into the harbor",
]
GSM8K_TEST = [
    ("Tom has 3 apples and buys 4 more. How many apples does he have?", "3 + 4 = <<3+4=7>>7\n#### 7"),
    ("A book costs $12. How much do 3 books cost?", "12 * 3 = <<12*3=36>>36\n#### 36"),
    ("Sara had 20 stickers and gave away 8. How many are left?", "20 - 8 = <<20-8=12>>12\n#### 12"),
    ("A farm has 300 hens and buys 49 more. How many hens does it have?", "300 + 49 = <<300+49=349>>349\n#### 349"),
]
GSM8K_TRAIN = [
    ("Ann reads 10 pages a day. How many pages does she read in 7 days?", "10 * 7 = <<10*7=70>>70\n#### 70"),
    ("A box holds 9 eggs. How many eggs are in 4 boxes?", "9 * 4 = <<9*4=36>>36\n#### 36"),
    ("Ben had 15 marbles and lost 6. How many does he have?", "15 - 6 = <<15-6=9>>9\n#### 9"),
    ("A car travels 60 miles per hour for 2 hours. How far does it go?", "60 * 2 = <<60*2=120>>120\n#### 120"),
    ("Mia has 8 pens and gets 5 more. How many pens does she have?", "8 + 5 = <<8+5=13>>13\n#### 13"),
    ("A pizza has 8 slices. How many slices are in 3 pizzas?", "8 * 3 = <<8*3=24>>24\n#### 24"),
]
WORDS = ("the river valley , which was settled in the 19th century , lies between two ranges of hills @-@ some of "
         "them 1 @,@ 200 metres high . its towns grew around mills and railway stations ; farming and trade "
         "followed .").split()


def wikitext_page(title: str, words: int, seed: int) -> str:
    """A page in wikitext-2-raw's style: ` = Title = ` heading, space-separated punctuation, ` @-@ ` joins."""
    rnd = random.Random(seed)
    body = " ".join(rnd.choice(WORDS) for _ in range(words))
    return f" = {title} = \n \n {body} \n \n = = History = = \n \n {body[: len(body) // 3]} \n"


def _write(folder: Path, split: str, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def build_mirror(root: Path, long_page_words: int = 2600) -> Path:
    """Write the four mirrors under `root` and return it. The wikitext test split holds one page longer than 2048
    tokens (`long_page_words`), so its rolling log-likelihood spans two windows."""
    _write(root / "baber/piqa/default", "train", PIQA)
    _write(root / "baber/piqa/default", "validation", PIQA)
    _write(root / "EleutherAI/lambada_openai/default", "test", [{"text": t} for t in LAMBADA])
    wiki = root / "EleutherAI/wikitext_document_level/wikitext-2-raw-v1"
    pages = [wikitext_page("Valley", 120, 1), wikitext_page("Railway", long_page_words, 2),
             wikitext_page("Brick mill", 60, 3)]
    _write(wiki, "test", [{"page": p} for p in pages])
    _write(wiki, "validation", [{"page": wikitext_page("Hills", 40, 4)}])
    _write(wiki, "train", [{"page": wikitext_page(t, 40, 5 + i)} for i, t in enumerate(("Trade", "Mills", "Farms"))])
    gsm = root / "openai/gsm8k/main"
    _write(gsm, "test", [{"question": q, "answer": a} for q, a in GSM8K_TEST])
    _write(gsm, "train", [{"question": q, "answer": a} for q, a in GSM8K_TRAIN])
    return root


MMLU_SUBJECTS = {
    "abstract_algebra": [
        ("Find the order of the group Z_4 x Z_2.", ["4", "6", "8", "2"], 2),
        ("Is every cyclic group abelian?", ["Yes", "No", "Only if finite", "Only if infinite"], 0),
        ("How many elements of order 2 does Z_6 have?", ["0", "1", "2", "3"], 1),
        ("The identity of a group is", ["unique", "two elements", "not defined", "always zero"], 0),
        ("Find the degree of Q(sqrt(2)) over Q.", ["0", "4", "2", "6"], 2),
    ],
    "anatomy": [
        ("Which bone is in the upper arm?", ["Femur", "Humerus", "Tibia", "Ulna"], 1),
        ("The heart has how many chambers?", ["Two", "Three", "Four", "Five"], 2),
        ("Which organ filters blood to make urine?", ["Liver", "Lung", "Kidney", "Spleen"], 2),
        ("The patella is also called the", ["kneecap", "shin", "collarbone", "heel"], 0),
        ("Which muscle separates the chest from the abdomen?", ["Biceps", "Diaphragm", "Deltoid", "Soleus"], 1),
        ("The smallest bones of the body are in the", ["foot", "hand", "ear", "nose"], 2),
        ("Which vessel carries blood away from the heart?", ["Vein", "Artery", "Capillary", "Lymph duct"], 1),
        ("How many lungs does a human have?", ["One", "Two", "Three", "Four"], 1),
    ],
}
"""A few questions per MMLU subject, in cais/mmlu's columns (question, subject, choices of 4, answer index)."""


def build_mmlu_mirror(root: Path, extra_subjects: tuple[str, ...] = ()) -> Path:
    """cais/mmlu's layout for `MMLU_SUBJECTS` under `root` (DIR/cais/mmlu/<subject>/{test,validation,dev}.jsonl:
    the rows as test, the first two as validation, the last three as dev, lm-eval's few-shot split), plus two
    generic questions for each of `extra_subjects` (to build all of mmlu); returns root."""
    subjects = {**{s: [(f"Question {i} on {s}?", ["w", "x", "y", "z"], i) for i in range(2)]
                   for s in extra_subjects}, **MMLU_SUBJECTS}
    for subject, items in subjects.items():
        rows = [{"question": q, "subject": subject, "choices": c, "answer": a} for q, c, a in items]
        folder = root / "cais/mmlu" / subject
        _write(folder, "test", rows)
        _write(folder, "validation", rows[:2])
        _write(folder, "dev", rows[-3:])
    return root
