"""Words left out of the glossary coverage report: function words and the generic wording of
captions (`the picture shows`, `appears to be`), which no glossary should translate as terms.
Without them the `uncovered` list is all `the`, `and`, `with` and tells a user nothing."""

FUNCTION_WORDS = frozenset(
    """
    a an the and or but nor so yet if then than that this these those there here what which who whom whose
    when where while why how as at by for from in into of off on onto out over under up down to toward towards
    with within without about above across after against along among around before behind below beneath
    beside besides between beyond during except inside near next outside past since through throughout
    till until upon via amid per away forward slightly
    i me my mine we us our ours you your yours he him his she her hers it its they them their theirs
    himself herself itself themselves myself yourself one ones someone something somebody anyone anything
    everyone everything nothing nobody each every either neither both all any some many much more most
    few less least other others another such same own
    is am are was were be been being has have had having do does did doing done can could will would shall
    should may might must ought let lets get gets got getting
    not no yes very too also just only even still really quite rather almost maybe perhaps possibly probably
    well again ever never always often sometimes already soon now once twice
    hes shes its theyre thats theres whats dont doesnt isnt arent
    """.split()
)

GENERIC_CAPTION_WORDS = frozenset(
    """
    picture image photo photograph pictures images photos frame shot view viewed
    appears appear appearing seems seem seen see shows show showing visible looks look like likely
    kind sort type piece pieces item items thing things stuff object objects looking
    """.split()
)

COVERAGE_STOPWORDS = FUNCTION_WORDS | GENERIC_CAPTION_WORDS
