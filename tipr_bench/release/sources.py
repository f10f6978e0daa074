"""The source datasets a release can derive from: names, papers and the terms their captions carry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceDataset:
    name: str
    paper: str
    terms: str


SOURCES: dict[str, SourceDataset] = {
    "cuhk-pedes": SourceDataset(
        "CUHK-PEDES",
        "Li et al., Person Search with Natural Language Description, CVPR 2017",
        "released by its authors for non-commercial research on request; the images come from existing "
        "re-identification datasets and keep their own terms",
    ),
    "icfg-pedes": SourceDataset(
        "ICFG-PEDES",
        "Ding et al., Semantically Self-Aligned Network for Text-to-Image Part-aware Person "
        "Re-identification, arXiv:2107.12666, 2021",
        "released by its authors for non-commercial research; images derive from MSMT17 and keep its terms",
    ),
    "rstpreid": SourceDataset(
        "RSTPReid",
        "Zhu et al., DSSL: Deep Surroundings-person Separation Learning for Text-based Person Retrieval, "
        "ACM MM 2021",
        "released by its authors for non-commercial research; images derive from MSMT17 and keep its terms",
    ),
    "ufinebench": SourceDataset(
        "UFineBench",
        "Zuo et al., UFineBench: Towards Text-based Person Retrieval with Ultra-fine Granularity, CVPR 2024",
        "released by its authors for non-commercial research under their terms",
    ),
}


def source_of(slug: str) -> SourceDataset:
    return SOURCES.get(slug) or SourceDataset(slug, "see the dataset's own publication", "the source dataset's terms")
