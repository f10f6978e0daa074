"""The English words a person description is read with: what each noun is, what it implies, and where
it sits. Data only; `reading.py` applies it.

Nouns form a hierarchy (a t-shirt is a shirt is a top), so a back-translation may say the general word
for the specific one, or the specific for the general, without contradicting the source; two different
leaves of one region (a dress and a skirt, a backpack and a shoulder bag, a tie and a bow tie) do.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Species:
    """What a noun names: its own name, its parent in the hierarchy, its body region and default place."""

    name: str
    parent: str
    region: str  # upper | lower | full | feet | socks | head | neck | face | hands | wrist | waist | bag | carried
    worn: bool = True  # worn on the body by default (a hat on the head), or carried (a bag, a phone)


def _table(rows: str) -> tuple[dict[str, str], dict[str, Species]]:
    """Rows `name < parent @ region [carried]: word, word, ...` (an indented line goes on with the row above)
    -> word -> species name, name -> Species."""
    words: dict[str, str] = {}
    species: dict[str, Species] = {}
    joined = rows.strip().replace("\n    ", " ")
    for row in joined.splitlines():
        head, _, vocab = row.partition(":")
        name, _, rest = head.partition("<")
        parent, _, where = rest.partition("@")
        region, *flags = where.split()
        name = name.strip()
        species[name] = Species(name, parent.strip(), region, worn="carried" not in flags)
        for word in (w.strip() for w in vocab.split(",")):
            if word:
                words[word] = name
    return words, species


NOUN_WORDS, SPECIES = _table("""
clothing < @ any: clothes, clothing, outfit, attire, garments, garment, uniform, costume
top < clothing @ upper: top, upper body
shirt < top @ upper: shirt, blouse, button up, button down, button up shirt, button down shirt, undershirt
dress shirt < shirt @ upper: dress shirt
t-shirt < shirt @ upper: t shirt, tshirt, tee, tee shirt, t shirts, tees
polo < shirt @ upper: polo, polo shirt
tank top < shirt @ upper: tank top, tank, camisole, singlet, vest top
jersey < shirt @ upper: jersey
tunic < shirt @ upper: tunic
sweater < top @ upper: sweater, jumper, pullover, knit sweater, knitted sweater
hoodie < sweatshirt @ upper: hoodie, hooded sweater, hooded sweatshirt, hooded top
sweatshirt < sweater @ upper: sweatshirt
cardigan < sweater @ upper: cardigan
fleece < sweater @ upper: fleece
outerwear < top @ upper: outerwear
jacket < outerwear @ upper: jacket, windbreaker, anorak, down jacket, hooded jacket, bomber jacket, jean jacket
blazer < jacket @ upper: blazer, suit jacket, sport coat
coat < outerwear @ upper: coat, overcoat, trench coat, raincoat, parka, pea coat, trenchcoat
vest < top @ upper: vest, waistcoat, gilet
bottoms < clothing @ lower: bottoms
pants < bottoms @ lower: pants, pant, trousers, slacks, sweatpants, joggers, khakis, cargo pants, chinos, paints
leggings < pants @ lower: leggings, jeggings
jeans < pants @ lower: jeans, jean, bluejeans, denim jeans, denims
capris < pants @ lower: capris, capri, capri pants, cropped pants, cropped trousers
shorts < bottoms @ lower: shorts, short pants, short trousers, hot pants, bermuda shorts
skirt < bottoms @ lower: skirt, miniskirt, mini skirt
dress < clothing @ full: dress, gown, sundress
jumpsuit < clothing @ full: jumpsuit, romper, overalls, playsuit, dungarees
suit < clothing @ full: suit
robe < clothing @ full: robe
shoes < @ feet: shoes, shoe, footwear
sneakers < shoes @ feet: sneakers, sneaker, trainers, trainer, tennis shoes, running shoes, sports shoes,
    athletic shoes, gym shoes, sport shoes
boots < shoes @ feet: boots, boot, ankle boots, booties, boot shoes
sandals < shoes @ feet: sandals, sandal, sandles
flip flops < shoes @ feet: flip flops, flip flop, thongs
slippers < shoes @ feet: slippers, slipper
heels < shoes @ feet: heels, high heels, pumps, stilettos, heeled shoes, high heeled shoes
loafers < shoes @ feet: loafers, loafer
dress shoes < shoes @ feet: dress shoes, leather shoes, formal shoes
socks < @ socks: socks, sock
tights < @ socks: tights, pantyhose, stockings, nylons
hat < @ head: hat, headwear, sun hat
cap < hat @ head: cap, baseball cap
beanie < hat @ head: beanie
helmet < @ head: helmet
tie < @ neck: tie, necktie
bow tie < @ neck: bow tie, bowtie
scarf < @ neck: scarf, shawl
hair < @ hair: hair, ponytail, pony tail, bun, braid, braids, bangs, hairstyle
hair tie < @ hair: hair tie, hair ties, hair band, scrunchie, hairband, headband
glasses < @ face: glasses, eyeglasses, spectacles, eyeglass, eye glasses, eyeglass frames, framed glasses
sunglasses < glasses @ face: sunglasses, sun glasses, shades
mask < @ face: mask, face mask
gloves < @ hands: gloves, glove
watch < @ wrist: watch, wristwatch
bracelet < @ wrist: bracelet, bangle
belt < @ waist: belt
bag < @ bag carried: bag, sack, pack
backpack < bag @ bag carried: backpack, back pack, knapsack, rucksack, book bag, bookbag, school bag, schoolbag
handbag < bag @ bag carried: handbag, hand bag, purse, pocketbook, clutch, tote, tote bag
shoulder bag < bag @ bag carried: shoulder bag, messenger bag, satchel, crossbody bag, cross body bag, sling bag
sports bag < bag @ bag carried: sports bag, gym bag, duffel bag, duffle bag, holdall, sport bag
shopping bag < bag @ bag carried: shopping bag, plastic bag, paper bag, carrier bag
waist bag < bag @ bag carried: fanny pack, waist bag, bum bag, belt bag
briefcase < bag @ bag carried: briefcase
suitcase < @ carried carried: suitcase, luggage, trolley case, rolling bag
umbrella < @ carried carried: umbrella, parasol
phone < @ carried carried: phone, cell phone, cellphone, mobile phone, smartphone, mobile
papers < @ carried carried: paper, papers, document, documents, folder, sheet of paper, sheets of paper, piece of paper
book < @ carried carried: book, books, notebook
balloons < @ carried carried: balloon, balloons
bottle < @ carried carried: bottle, water bottle
cup < @ carried carried: cup, mug, coffee cup
box < @ carried carried: box, package, parcel
bicycle < @ carried carried: bicycle, bike
stroller < @ carried carried: stroller, pram, baby carriage, buggy
cart < @ carried carried: cart, trolley, shopping cart
skateboard < @ carried carried: skateboard
laptop < @ carried carried: laptop, computer, tablet
camera < @ carried carried: camera, camcorder
ball < @ carried carried: ball, basketball, football, soccer ball
cane < @ carried carried: cane, walking stick, crutch, crutches
bouquet < @ carried carried: bouquet
""")

# which pairs of different leaves are not a contradiction: English "vest" is a tank top in British use
COMPATIBLE = frozenset({frozenset(("vest", "tank top")), frozenset(("handbag", "shoulder bag"))})

# regions whose garments stand in for each other (a dress read back as a skirt is a near garment)
NEAR_REGIONS: dict[str, tuple[str, ...]] = {"full": ("lower", "upper"), "lower": ("full",), "upper": ("full",)}

# features a garment or item has or lacks: word -> (feature, present?)
FEATURE_WORDS: dict[str, tuple[str, bool]] = {
    **dict.fromkeys(("hood", "hoods", "hooded"), ("hood", True)),
    **dict.fromkeys(("collar", "collars", "collared"), ("collar", True)),
    "collarless": ("collar", False),
    **dict.fromkeys(("sleeve", "sleeves", "sleeved"), ("sleeves", True)),
    "sleeveless": ("sleeves", False),
    **dict.fromkeys(("graphic", "graphics", "print", "printed", "logo", "logos", "writing", "lettering", "letters",
                     "picture", "pictures", "image", "design", "emblem", "slogan", "text", "words", "symbol"),
                    ("print", True)),
    **dict.fromkeys(("buckle", "buckled", "buckles"), ("buckle", True)),
    **dict.fromkeys(("pocket", "pockets"), ("pocket", True)),
    **dict.fromkeys(("heel", "heels", "heeled"), ("heel", True)),
    "flat": ("heel", False),
    **dict.fromkeys(("tucked",), ("tucked", True)),
    "untucked": ("tucked", False),
    **dict.fromkeys(("patterned", "pattern"), ("print", True)),
    "barefoot": ("shoes", False), "shoeless": ("shoes", False),
}
# features whose presence a back-translation must not add: each is a detail a person is told apart by
ADDABLE_FEATURES = frozenset({"hood", "print", "buckle", "heel", "high top", "collar", "pocket"})
# features a species has by its nature
IMPLIED_FEATURES: dict[str, frozenset[str]] = {
    "hoodie": frozenset({"hood"}), "polo": frozenset({"collar"}), "dress shirt": frozenset({"collar"}),
    "heels": frozenset({"heel"}), "blazer": frozenset({"collar"}),
}

# material word -> material; a back-translation may name the same material another way
MATERIALS: dict[str, str] = {
    "denim": "denim", "jean": "denim", "leather": "leather", "suede": "leather", "patent": "leather",
    "cotton": "cotton", "linen": "linen", "corduroy": "corduroy", "cord": "corduroy",
    "wool": "wool", "woolen": "wool", "woollen": "wool", "knit": "wool", "knitted": "wool", "cashmere": "wool",
    "silk": "silk", "silky": "silk", "satin": "silk", "velvet": "velvet", "velour": "velvet", "lace": "lace",
    "lacy": "lace", "plush": "plush", "fur": "fur", "furry": "fur", "faux": "", "fleece": "fleece",
    "plastic": "plastic", "paper": "paper", "canvas": "canvas", "nylon": "synthetic", "polyester": "synthetic",
    "rubber": "rubber", "straw": "straw", "mesh": "mesh", "chiffon": "chiffon", "tweed": "tweed",
}
IMPLIED_MATERIALS: dict[str, str] = {"jeans": "denim", "jean jacket": "denim", "dress shoes": "leather"}

# length of a garment or of hair
LENGTH_WORDS: dict[str, str] = {
    "long": "long", "longer": "long", "maxi": "long", "floor": "long", "ankle": "long", "full": "long",
    "short": "short", "shorter": "short", "mini": "short", "cropped": "short", "crop": "short",
}
SLEEVE_LENGTHS: dict[str, str] = {"long": "long", "short": "short", "full": "long", "half": "short", "cap": "short"}
FIT_WORDS: dict[str, str] = {
    "tight": "tight", "skinny": "tight", "slim": "tight", "slender": "tight", "fitted": "tight", "form": "tight",
    "loose": "loose", "baggy": "loose", "wide": "loose", "flared": "loose",
}
SIZE_WORDS: dict[str, str] = {"small": "small", "little": "small", "tiny": "small",
                              "large": "large", "big": "large", "huge": "large", "oversized": "large"}

# nouns whose number tells people apart (singular), and words that count the same thing
COUNT_LEMMAS: dict[str, str] = {"marking": "mark", "sheet": "paper"}
COUNTABLE = frozenset({"glove", "hand", "shoulder", "arm", "pocket", "flower", "picture", "badge", "marking", "mark",
                       "tie", "paper", "sheet", "book", "bottle", "balloon", "bracelet", "bangle", "earring",
                       "button", "patch", "star", "heart", "pin", "strap", "bag", "ring", "stripe"})
NUMBERS: dict[str, int] = {"one": 1, "a": 1, "an": 1, "single": 1, "another": 1, "two": 2, "both": 2, "pair": 2,
                           "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
SEVERAL = frozenset({"several", "many", "some", "multiple", "various", "few", "couple", "lots", "bunch", "stack",
                     "pile", "number", "numerous", "assorted", "bundle"})

# where a carried item is when nothing says: a backpack is on the back
DEFAULT_PLACES: dict[str, str] = {"backpack": "back"}
# where an item is: body part after a preposition -> place
PLACES: dict[str, str] = {
    "hand": "hand", "hands": "hand", "fingers": "hand", "palm": "hand", "fist": "hand",
    "shoulder": "shoulder", "shoulders": "shoulder", "back": "back", "chest": "front", "front": "front",
    "body": "front", "torso": "front", "arm": "arm", "arms": "arm", "elbow": "arm", "armpit": "arm",
    "neck": "neck", "head": "head", "ear": "ear", "ears": "ear", "waist": "waist", "hip": "waist",
    "hips": "waist", "wrist": "wrist", "wrists": "wrist", "face": "face", "eyes": "face", "feet": "feet",
}
PLACE_PREPOSITIONS = frozenset({"in", "on", "over", "across", "around", "under", "to", "at", "from", "onto",
                                "behind", "against", "upon", "by", "off"})
# places that describe one way of carrying: a bag over the shoulder hangs at the back, across the body, by the arm
COMPATIBLE_PLACES = frozenset(frozenset(p.split()) for p in (
    "shoulder back", "shoulder front", "shoulder arm", "hand wrist", "arm wrist", "neck shoulder"))
# where a thing of each region is when it is worn: a jacket tied around the waist or sunglasses pushed up on
# the head are not worn
WORN_AT: dict[str, frozenset[str]] = {region: frozenset(places.split()) for region, places in {
    "upper": "front back shoulder", "full": "front back", "lower": "", "feet": "feet", "socks": "feet",
    "head": "head", "face": "face", "neck": "neck shoulder", "hands": "hand", "wrist": "wrist arm",
    "waist": "waist", "bag": "back shoulder front waist", "carried": "", "hair": "", "any": ""}.items()}
# verbs that say how the person has an item
HOLD_VERBS = frozenset({"holding", "holds", "held", "hold", "clutching", "clutches", "gripping", "grips"})
WEAR_VERBS = frozenset({"wearing", "wears", "wore", "wear", "dressed", "donning", "sporting"})
CARRY_VERBS = frozenset({"carrying", "carries", "carry", "carried", "toting", "pulling", "pushing", "dragging"})
# words that give an item to the person without saying how: the item's own default place then holds
HAVE_WORDS = frozenset({"has", "have", "having", "had", "with", "got"})

MALE = frozenset({"man", "men", "boy", "boys", "male", "gentleman", "guy", "he", "his", "him", "himself",
                  "father", "mr", "gentlemen", "guys", "males", "husband", "son", "dad"})
FEMALE = frozenset({"woman", "women", "girl", "girls", "female", "lady", "ladies", "she", "her", "hers", "herself",
                    "mother", "mrs", "ms", "females", "wife", "daughter", "mom"})
NEGATORS = frozenset({"no", "not", "without", "never", "lacks", "lacking", "nor", "none"})
