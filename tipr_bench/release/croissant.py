"""Croissant 1.0 JSON-LD metadata (croissant.json): the release's files with sha256, and one record
set per language and split describing the parquet columns, so Croissant-aware tools can load it.
The @context is the standard one mlcroissant checks for, so it validates with no warning."""

from __future__ import annotations

from tipr_bench.benchmark.manifest import FileEntry
from tipr_bench.core.languages import get_language
from tipr_bench.release.collect import COLUMNS, INT_COLUMNS
from tipr_bench.release.sources import source_of

CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileObject": "cr:fileObject",
    "fileProperty": "cr:fileProperty",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

ENCODINGS = {".parquet": "application/x-parquet", ".jsonl": "application/jsonlines", ".json": "application/json",
             ".md": "text/markdown"}


def _encoding(path: str) -> str:
    return next((v for k, v in ENCODINGS.items() if path.endswith(k)), "application/octet-stream")


def croissant(name: str, version: str, dataset: str, languages: list[str], files: list[FileEntry],
              parquet_files: dict[str, dict[str, str]], tool_version: str, date_published: str) -> dict:
    """The Croissant document. Its one timestamp is `date_published` (the release's build time, which the
    card and manifest carry too); everything else follows from the files."""
    source = source_of(dataset)
    distribution = [
        {"@type": "cr:FileObject", "@id": f.path, "name": f.path, "contentUrl": f.path,
         "encodingFormat": _encoding(f.path), "contentSize": f"{f.size} B", "sha256": f.sha256}
        for f in files
    ]
    record_sets = []
    for lang, by_split in parquet_files.items():
        for split, path in by_split.items():
            rs_id = f"captions-{lang}-{split}"
            record_sets.append({
                "@type": "cr:RecordSet", "@id": rs_id, "name": rs_id,
                "description": f"{get_language(lang).name} captions of the {split} split.",
                "key": {"@id": f"{rs_id}/key"},
                "field": [
                    {"@type": "cr:Field", "@id": f"{rs_id}/{col}", "name": col,
                     "dataType": "sc:Integer" if col in INT_COLUMNS else "sc:Text",
                     "source": {"fileObject": {"@id": path}, "extract": {"column": col}}}
                    for col in COLUMNS
                ],
            })
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": name,
        "version": version,
        "datePublished": date_published,
        "description": f"{source.name} captions in {', '.join(languages)} (captions only, no images), "
                       f"made with tipr-bench {tool_version}.",
        "license": f"other: the terms of {source.name} ({source.terms})",
        "citeAs": source.paper,
        "inLanguage": list(languages),
        "isBasedOn": source.name,
        "keywords": ["text-to-image retrieval", "person retrieval", "multilingual", "machine translation"],
        "distribution": distribution,
        "recordSet": record_sets,
    }
