"""Reading a submission and checking it on its own: an .npz of text and image embeddings with their
keys, or a .npy similarity matrix with its two key lists. Anything a user can get wrong in such a file
is refused with one line that says what is wrong and how to fix it; whether the submission covers a
split's queries and gallery is the evaluator's to check.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tipr_bench.core.atomic import sha256_file
from tipr_bench.core.errors import UserError, brief

SUBMISSION_ARRAYS = ("text_feats", "text_keys", "image_feats", "image_paths")
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with entries; an empty zip
_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


@dataclass(frozen=True)
class EmbeddingSubmission:
    path: Path
    text_feats: np.ndarray
    text_keys: list[str]
    image_feats: np.ndarray
    image_paths: list[str]
    sha256: str


@dataclass(frozen=True)
class SimilaritySubmission:
    path: Path
    similarity: np.ndarray  # [captions x images]
    query_keys: list[str]
    gallery_paths: list[str]
    sha256: str


def load_embeddings(path: str | Path) -> EmbeddingSubmission:
    """Read an .npz submission and check its own consistency (not yet against a split)."""
    path = Path(path)
    must_exist(path, "embeddings")
    how = ("save it with np.savez(FILE, text_feats=..., text_keys=np.array(keys, dtype=str), "
           "image_feats=..., image_paths=np.array(paths, dtype=str))")
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic == NPY_MAGIC:
        raise UserError(f"{path}: is a single .npy array, not an .npz archive; {how}")
    if magic[:4] not in ZIP_MAGICS:
        raise UserError(f"{path}: is not an .npz (zip) archive; {how}")
    try:
        archive = np.load(path, allow_pickle=False)
    except _READ_ERRORS as exc:
        raise UserError(f"{path}: cannot read it as an .npz archive ({brief(exc)}); {how}") from None
    with archive:
        missing = [name for name in SUBMISSION_ARRAYS if name not in archive.files]
        if missing:
            raise UserError(f"{path}: missing array(s) {', '.join(missing)} (has: "
                            f"{', '.join(archive.files) or 'none'}); {how}")
        arrays = {}
        for name in SUBMISSION_ARRAYS:
            try:
                arrays[name] = archive[name]
            except _READ_ERRORS as exc:
                raise UserError(f"{path}: array {name} cannot be read ({brief(exc)}); {how}") from None
    text_feats = _check_feats(path, "text_feats", arrays["text_feats"])
    image_feats = _check_feats(path, "image_feats", arrays["image_feats"])
    text_keys = _check_names(path, "text_keys", arrays["text_keys"], text_feats.shape[0], "text_feats")
    image_paths = _check_names(path, "image_paths", arrays["image_paths"], image_feats.shape[0], "image_feats")
    if text_feats.shape[1] != image_feats.shape[1]:
        raise UserError(
            f"{path}: text_feats has dimension {text_feats.shape[1]} but image_feats has "
            f"{image_feats.shape[1]}; both must come from the same joint embedding space"
        )
    return EmbeddingSubmission(path, text_feats, text_keys, image_feats, image_paths, sha256_file(path))


def load_similarity(path: str | Path, query_keys: str | Path, gallery_paths: str | Path) -> SimilaritySubmission:
    """Read a [captions x images] .npy similarity matrix and its two key lists (one per line)."""
    path = Path(path)
    must_exist(path, "similarity")
    keys = _read_lines(Path(query_keys), "query keys")
    paths = _read_lines(Path(gallery_paths), "gallery paths")
    try:
        sim = np.load(path, allow_pickle=False)
    except _READ_ERRORS as exc:
        raise UserError(f"{path}: cannot read it as a .npy array ({brief(exc)}); save it with np.save") from None
    if not isinstance(sim, np.ndarray):
        raise UserError(f"{path}: is an .npz archive; --similarity takes one .npy array saved with np.save")
    if sim.ndim != 2:
        raise UserError(f"{path}: similarity must be 2-D [captions x images], got shape {sim.shape}")
    if sim.shape != (len(keys), len(paths)):
        raise UserError(
            f"{path}: shape {sim.shape} does not match {len(keys)} query keys ({query_keys}) x "
            f"{len(paths)} gallery paths ({gallery_paths}); rows are captions, columns are images"
        )
    sim = _numeric(path, "similarity", np.asarray(sim))
    _check_finite(path, "similarity", sim)
    _no_duplicates(Path(query_keys), "query key", keys)
    _no_duplicates(Path(gallery_paths), "gallery path", paths)
    return SimilaritySubmission(path, sim, keys, paths, sha256_file(path))


def must_exist(path: Path, what: str) -> None:
    if not path.is_file():
        raise UserError(f"{what} file {path} not found: check the path")


def _numeric(path: Path, name: str, arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind not in "fiu":
        raise UserError(f"{path}: {name} has dtype {arr.dtype}; it must hold numbers (float32 is usual)")
    return arr.astype(np.float32) if arr.dtype.kind != "f" or arr.itemsize < 4 else arr


def _check_feats(path: Path, name: str, arr: np.ndarray) -> np.ndarray:
    if arr.ndim != 2:
        raise UserError(f"{path}: {name} must be 2-D [items x dim], got shape {arr.shape}; stack one row per item")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise UserError(f"{path}: {name} is empty (shape {arr.shape}); it needs one row per item")
    arr = _numeric(path, name, arr)
    _check_finite(path, name, arr)
    zero = np.flatnonzero(~arr.any(axis=1))
    if zero.size:
        more = f" (and {zero.size - 1} more rows)" if zero.size > 1 else ""
        raise UserError(f"{path}: {name} row {zero[0]}{more} is all zeros; "
                        "a zero vector has no direction to rank by: re-encode those items")
    return arr


def _check_finite(path: Path, name: str, arr: np.ndarray) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.argwhere(bad)[0]
        value = arr[tuple(where)]
        raise UserError(f"{path}: {name} has {int(bad.sum())} NaN/inf value(s), first {value} at "
                        f"{tuple(int(i) for i in where)}; fix the encoder output (e.g. fp16 overflow)")


def _check_names(path: Path, name: str, arr: np.ndarray, rows: int, feats: str) -> list[str]:
    if arr.ndim != 1:
        raise UserError(f"{path}: {name} must be a 1-D array of strings, got shape {arr.shape}")
    if arr.dtype.kind == "S":
        try:
            arr = np.char.decode(arr, "utf-8")
        except UnicodeDecodeError:
            raise UserError(f"{path}: {name} is not UTF-8 text; save it with dtype=str") from None
    if arr.dtype.kind != "U":
        raise UserError(f"{path}: {name} has dtype {arr.dtype}; save it with np.array(..., dtype=str)")
    if arr.shape[0] != rows:
        raise UserError(f"{path}: {name} has {arr.shape[0]} entries but {feats} has {rows} rows; "
                        "they must be the same length, in the same order")
    names = arr.tolist()
    _no_duplicates(path, name, names)
    return names


def _no_duplicates(path: Path, what: str, names: Sequence[str]) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            raise UserError(f"{path}: duplicate {what} {n!r} (entry {i}); each must appear once")
        seen.add(n)


def _read_lines(path: Path, what: str) -> list[str]:
    must_exist(path, what)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); save the {what} as UTF-8, one per line") from None
    lines = text.splitlines()
    blank = [i + 1 for i, line in enumerate(lines) if not line.strip()]
    if blank:
        raise UserError(f"{path}: line {blank[0]} is blank; write one {what[:-1]} per line, no blank lines")
    if not lines:
        raise UserError(f"{path}: no {what}; write one per line")
    return [line.strip() for line in lines]
