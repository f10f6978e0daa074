"""Verdicts and their reasons, and the ranking that decides whether a rewrite is kept."""

from __future__ import annotations

from tipr_bench.benchmark.records import Reason, ReasonKind
from tipr_bench.refine.verdict import Thresholds, assess

SRC = "A man in a red jacket."


COLOUR = Reason(ReasonKind.ATTRIBUTE, "colour of jacket: red -> blue", term="jacket")
MISSED_RED = Reason(ReasonKind.MISSED_TERM, term="red", source_span="red", target_span="红色",
                    confirmed_by="the back-translation lacks it too")
SOFT_RED = Reason(ReasonKind.SOFT_MISS, term="red", source_span="red", target_span="红色")


def texts(a) -> tuple[str, ...]:
    return tuple(str(r) for r in a.reasons)


def _assess(**kw):
    chrf_min = kw.pop("chrf_min", Thresholds().chrf_min)
    base = dict(back_translation="A man in a red jacket.", chrf=90.0, bleu=80.0, qe=0.9,
                thresholds=Thresholds(chrf_min=chrf_min, qe_theta=0.15))
    return assess("k", SRC, kw.pop("translation", "一个穿红色夹克的男人。"), **{**base, **kw})


def test_clean_translation_is_ok():
    a = _assess(terms_expected=("man", "red", "jacket"), terms_met=("man", "red", "jacket"))
    assert a.verdict == "ok" and a.reasons == () and a.penalty == 0


def test_sentence_signals_make_it_noisy_with_numbers_in_the_reasons():
    a = _assess(qe=0.80, chrf=20.0)
    assert a.verdict == "noisy"
    assert texts(a) == ("QE noise 0.2000 > theta 0.15", "back-translation chrF 20.0 < 30")
    assert [r.kind for r in a.reasons] == [ReasonKind.QE_NOISE, ReasonKind.LOW_CHRF]
    assert _assess(qe=0.85).verdict == "ok"  # noise == theta is kept (published rule)


def test_attributes_terms_and_output_checks_flag_it():
    a = _assess(attribute_issues=[COLOUR], terms_expected=("red", "jacket"), terms_met=("jacket",),
                term_reasons=[MISSED_RED])
    assert a.verdict == "flagged"
    assert texts(a) == ("colour of jacket: red -> blue",
                        "missed term: 红色 (red) [the back-translation lacks it too]")
    assert a.terms_missed == ("red",)
    flagged = _assess(status="flagged", status_reason="wrong script")
    assert flagged.verdict == "flagged" and texts(flagged) == ("output check: wrong script",)


def test_a_soft_miss_is_reported_but_never_flags():
    a = _assess(terms_expected=("red", "jacket"), terms_met=("jacket",), term_reasons=[SOFT_RED])
    assert a.verdict == "ok" and a.penalty == 0
    assert a.soft_misses == (SOFT_RED,) and str(SOFT_RED) == "soft miss: 红色 (red)"


def test_the_verdict_reads_kinds_not_text():
    """A reason whose text looks like a flag but whose kind is informational changes nothing."""
    note = Reason(ReasonKind.NOTE, "wrong term: looks alarming")
    assert _assess(term_reasons=[note]).verdict == "ok"
    assert _assess(term_reasons=[Reason(ReasonKind.WRONG_TERM, term="top", target_span="上衣",
                                        confirmed_by="顶部")]).verdict == "flagged"


def test_thresholds_are_configurable():
    assert _assess(chrf=20.0, chrf_min=10.0).verdict == "ok"
    assert _assess(chrf=20.0, chrf_min=30.0).verdict == "noisy"


def test_reasons_round_trip_through_json_and_old_text_rows_still_load():
    assert Reason.from_json(MISSED_RED.to_json()) == MISSED_RED
    assert Reason.from_json("missed term: 红色 (red)") == Reason(ReasonKind.NOTE, "missed term: 红色 (red)")


def test_failed_outranks_everything_and_ranking_prefers_fewer_problems():
    failed = _assess(translation="", status="failed", status_reason="request failed: timeout", chrf=None,
                     qe=None, back_translation="")
    assert failed.verdict == "failed" and str(failed.reasons[0]) == "output check: failed (request failed: timeout)"
    wrong = _assess(attribute_issues=[COLOUR])
    noisy = _assess(qe=0.7)
    ok_low = _assess(chrf=60.0)
    ok_high = _assess(chrf=95.0)
    assert noisy.better_than(wrong) and wrong.better_than(failed)
    assert ok_low.better_than(noisy)
    assert ok_high.better_than(ok_low) and not ok_low.better_than(ok_high)
    assert not ok_high.better_than(ok_high)  # equal is not better: never replace with an equal
