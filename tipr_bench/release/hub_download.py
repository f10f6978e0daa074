"""download hf://datasets/OWNER/NAME[@REVISION]: a Hub dataset repo into a folder ingest reads.

huggingface_hub's snapshot download does the transfer (its cache, HF_ENDPOINT, the token, offline
mode). Then every file is checked against what the Hub's tree listing promises (sha256 for LFS
files, the git blob sha1 for the others), the folder is surveyed for files the adapters know, and
only then is it copied into a hidden staging folder and renamed into place with HUB_SOURCE.json,
which records the commit the revision resolved to. A failure installs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tipr_bench.benchmark.adapters import detect_format
from tipr_bench.benchmark.adapters.multilingual import multilingual_files
from tipr_bench.benchmark.hub_source import HUB_SOURCE_NAME, find_hub_source
from tipr_bench.benchmark.manifest import MANIFEST_NAME, IntegrityError
from tipr_bench.core.atomic import fsync_dir, sha256_file, staging_dir, write_durable
from tipr_bench.core.errors import UserError
from tipr_bench.release.hub import HubRepo, HubUnreachable, endpoint_of, hub_errors, parse_hub_spec
from tipr_bench.release.index_download import default_cache

_HEX40 = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True, slots=True)
class FoundDataset:
    """A folder of the download that an adapter reads: `ingest --root DIR/folder`."""

    folder: str  # relative to the download, "" for its root
    format: str  # a dataset slug, "multilingual" or "release"
    dataset: str | None  # the slug where the files say it
    splits: list[str]
    languages: list[str]


@dataclass
class HubDownload:
    repo_id: str
    revision: str | None
    commit: str
    endpoint: str
    path: Path
    files: int
    bytes: int
    verified: int  # files that matched the checksum the Hub lists
    found: list[FoundDataset] = field(default_factory=list)
    already_present: bool = False
    from_cache: bool = False  # the Hub was not reached (offline mode, or down): the files and the listing they
    # were checked against are the Hub cache's, as stored when the cache was filled

    def as_dict(self) -> dict:
        return {"repo": self.repo_id, "revision": self.revision, "commit": self.commit, "endpoint": self.endpoint,
                "path": str(self.path), "files": self.files, "bytes": self.bytes, "verified": self.verified,
                "found": [asdict(f) for f in self.found], "already_present": self.already_present,
                "from_cache": self.from_cache}


def default_hub_folder(repo: HubRepo, commit: str) -> Path:
    """~/.cache/tipr-bench/hub/OWNER/NAME/COMMIT: one immutable folder per commit."""
    return default_cache().parent / "hub" / repo.repo_id / commit


def download_from_hub(
    spec: str,
    out: str | Path | None = None,
    *,
    include: list[str] | None = None,
    cache_dir: str | Path | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
    progress: bool = True,
) -> HubDownload:
    """Download the files of hf://datasets/OWNER/NAME[@REV] (those matching `include` globs) into `out`."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    repo = parse_hub_spec(spec)
    include = _check_patterns(include)
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise UserError(f"--out {out} is a file; give a folder to download into")
    if not progress:
        disable_progress_bars()
    try:
        with hub_errors(repo, endpoint, "downloading"):
            from_cache = not _hub_answers(repo, endpoint, token)
            try:
                snapshot = Path(snapshot_download(repo.repo_id, repo_type="dataset", revision=repo.revision,
                                                  allow_patterns=include, cache_dir=cache_dir, endpoint=endpoint,
                                                  token=token, local_files_only=from_cache))
            except OSError as exc:  # huggingface_hub's errors are OSErrors
                _explain_uncached(exc, repo, endpoint, cache_dir)
                raise
            tree = _tree(repo, snapshot.name, cache_dir)
    finally:
        if not progress:
            enable_progress_bars()
    commit = snapshot.name
    if not _HEX40.match(commit):
        raise IntegrityError(f"{repo.spec}: the Hub cache returned {snapshot}, not a commit folder")
    selected = _selected(tree, include, repo)
    checked = _verify(snapshot, selected, repo)
    found = survey(snapshot, [f.path for f in selected])
    if not found:
        names = ", ".join(sorted(f.path for f in selected)[:6]) + (", ..." if len(selected) > 6 else "")
        raise UserError(f"{repo.spec} (commit {commit[:12]}) holds no file the adapters know ({names}); "
                        "expected {split}_reid_{lang}.json, reid_raw.json, ICFG-PEDES.json, data_captions.json, "
                        "ufine*.json or a tipr-bench release; nothing was installed")
    dest = Path(out).expanduser() if out is not None else default_hub_folder(repo, commit)
    result = HubDownload(repo.repo_id, repo.revision, commit, endpoint_of(endpoint), dest, len(selected),
                         sum(f.size for f in selected), len(checked), found, from_cache=from_cache)
    if dest.exists() and any(dest.iterdir()):
        _check_existing(dest, repo, commit, selected)
        result.already_present = True
        return result
    _install(snapshot, dest, repo, commit, selected, checked, endpoint)
    return result


def _hub_answers(repo: HubRepo, endpoint: str | None, token: str | bool | None) -> bool:
    """Whether the Hub can be asked about the repo now. snapshot_download falls back to its cache without
    saying so when the Hub is down; asking first tells a download from a cached copy. A Hub that answers
    with a refusal (no such repo, a bad token) raises, as the download itself would."""
    import httpx2
    from huggingface_hub import HfApi, constants, errors

    if constants.is_offline_mode():
        return False
    try:
        HfApi(endpoint=endpoint, token=token).repo_info(repo.repo_id, repo_type="dataset", revision=repo.revision)
    except (httpx2.ConnectError, httpx2.TimeoutException):
        return False
    except errors.HfHubHTTPError as exc:
        if exc.response is not None and exc.response.status_code >= 500:
            return False
        raise
    return True


def _tree(repo: HubRepo, commit: str, cache_dir) -> list:
    """The commit's file listing, as snapshot_download cached it (what the checks compare against)."""
    from huggingface_hub import get_cached_repo_tree
    from huggingface_hub.errors import CachedRepoTreeNotFoundError

    try:
        return get_cached_repo_tree(repo.repo_id, repo_type="dataset", revision=commit, cache_dir=cache_dir)
    except CachedRepoTreeNotFoundError:
        raise UserError(f"the Hub cache holds {repo.spec} (commit {commit[:12]}) without its file listing (an "
                        "older huggingface_hub filled it), so the files cannot be checked; run once without "
                        "HF_HUB_OFFLINE") from None


def survey(root: Path, paths: list[str]) -> list[FoundDataset]:
    """Every folder holding files an adapter reads, with what its file names or manifest say (the folders
    inside a release are its own copies, not datasets of their own)."""
    found: list[FoundDataset] = []
    for folder in sorted({str(Path(p).parent) if "/" in p else "" for p in paths}):
        if any(f.format == "release" and (not f.folder or folder.startswith(f"{f.folder}/")) for f in found):
            continue
        where = root / folder if folder else root
        try:
            fmt, slug = detect_format(where)
        except UserError:
            continue
        splits, langs = [], []
        if fmt == "multilingual":
            files = multilingual_files(where)
            splits = [s for s in ("train", "val", "test") if s in files]
            langs = sorted({lang for by in files.values() for lang in by}, key=lambda c: (c != "en", c))
        elif fmt == "release":
            manifest = json.loads((where / MANIFEST_NAME).read_text("utf-8"))
            slug = manifest.get("dataset")
            splits, langs = list(manifest.get("splits", [])), list(manifest.get("languages", []))
        found.append(FoundDataset(folder, fmt, slug, splits, langs))
    return found


def dataset_folder(result: HubDownload, dataset: str | None) -> Path:
    """The folder of the download to ingest as `dataset`: the one whose name or files say so, or the only one.
    Without `dataset`, the only folder, when its files name their dataset (a tipr-bench release does)."""
    if dataset is None:
        named = [f for f in result.found if f.dataset]
        if len(result.found) == 1 and named:
            return result.path / named[0].folder if named[0].folder else result.path
        folders = ", ".join(f.folder or "." for f in result.found)
        raise UserError(f"--ingest: the download ({folders}) does not name its dataset (the published multilingual "
                        f"files do not); it is installed at {result.path}: run `tipr-bench ingest --root "
                        f"{result.path}/FOLDER --dataset NAME`, or download again with --dataset")
    key = re.sub(r"[^a-z0-9]", "", dataset.lower())
    named = [f for f in result.found if f.dataset == dataset or re.sub(r"[^a-z0-9]", "", Path(f.folder).name.lower())
             == key]
    if len(named) == 1 or len(result.found) == 1:
        chosen = named[0] if len(named) == 1 else result.found[0]
        return result.path / chosen.folder if chosen.folder else result.path
    folders = ", ".join(f.folder or "." for f in result.found)
    raise UserError(f"the download holds several datasets ({folders}) and none is named like {dataset!r}; run "
                    f"`tipr-bench ingest --root {result.path}/FOLDER --dataset {dataset}` for the one you mean")


def _check_patterns(include: list[str] | None) -> list[str] | None:
    if not include:
        return None
    bad = [p for p in include if not p.strip() or p.startswith("/")]
    if bad:
        raise UserError(f"--include {bad[0]!r}: give a glob relative to the repo root, e.g. 'CUHK-PEDES/*'")
    return [p.strip() for p in include]


def _selected(tree: list, include: list[str] | None, repo: HubRepo) -> list:
    from huggingface_hub.utils import filter_repo_objects

    chosen = list(filter_repo_objects(tree, allow_patterns=include, key=lambda f: f.path))
    if include and not chosen:
        sample = ", ".join(sorted(f.path for f in tree)[:8])
        raise UserError(f"--include {' '.join(include)} matched none of the {len(tree)} files of {repo.spec} "
                        f"({sample}{', ...' if len(tree) > 8 else ''}); nothing was downloaded")
    return chosen


def _verify(snapshot: Path, files: list, repo: HubRepo) -> dict[str, str]:
    """Each file against the git blob id the Hub lists: of the file itself, or, for a file stored in LFS,
    of its LFS pointer (which holds the file's sha256). Returns path -> how it was checked."""
    how = {}
    for f in files:
        local = snapshot / f.path
        if not local.is_file():
            raise IntegrityError(f"{repo.spec}: {f.path} is listed by the Hub but missing from the download; "
                                 "run the command again")
        if local.stat().st_size != f.size:
            raise IntegrityError(f"{repo.spec}: {f.path} has {local.stat().st_size} bytes, the Hub lists {f.size}; "
                                 "nothing was installed")
        if git_blob_id(local) == f.blob_id:
            how[f.path] = "git-blob-sha1"
        elif _git_blob_id_of(lfs_pointer(sha256_file(local), f.size)) == f.blob_id:
            how[f.path] = "git-lfs-sha256"
        else:
            raise IntegrityError(f"{repo.spec}: {f.path} does not match the checksum the Hub lists; the cached copy "
                                 "is corrupt: delete it from the Hub cache and download again; nothing was installed")
    return how


def git_blob_id(path: Path) -> str:
    """git's object id of a file (sha1 of "blob SIZE\\0" + content), read in chunks."""
    digest = hashlib.sha1(b"blob %d\x00" % path.stat().st_size)
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _git_blob_id_of(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-LFS pointer git stores for a file; its blob id is what the Hub lists for an LFS file."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _check_existing(dest: Path, repo: HubRepo, commit: str, files: list) -> None:
    source = find_hub_source(dest)
    if source is None or source.root.resolve() != dest.resolve():
        raise UserError(f"{dest} exists and is not a Hub download; remove it or pick another --out")
    if (source.repo_id, source.commit) != (repo.repo_id, commit):
        raise UserError(f"{dest} holds hf://datasets/{source.repo_id}@{source.commit[:12]}, not "
                        f"{repo.repo_id}@{commit[:12]}; remove it or pick another --out")
    for f in files:
        local = dest / f.path
        if f.path not in source.files or not local.is_file() or sha256_file(local) != source.files[f.path]:
            raise UserError(f"{dest} holds this commit but {f.path} is missing or changed; remove the folder and "
                            "download again")


def _install(snapshot: Path, dest: Path, repo: HubRepo, commit: str, files: list, checked: dict[str, str],
             endpoint: str | None) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_dir(dest.parent, prefix=f".{dest.name}.", suffix=".hub")
    try:
        record = []
        for f in files:
            target = staging / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(snapshot / f.path, target)  # follows the cache's symlink to its blob
            with open(target, "rb") as handle:
                os.fsync(handle.fileno())
            record.append({"path": f.path, "size": f.size, "sha256": sha256_file(staging / f.path),
                           "git_blob_id": f.blob_id, "checked": checked[f.path]})
        doc = {"repo": repo.repo_id, "repo_type": "dataset", "revision": repo.revision or "main", "commit": commit,
               "endpoint": endpoint_of(endpoint), "files": record}
        write_durable(staging / HUB_SOURCE_NAME, (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode())
        for folder in sorted({p.parent for p in staging.rglob("*") if p.is_file()}, reverse=True):
            fsync_dir(folder)
        if dest.exists():
            dest.rmdir()  # an empty folder the user made; anything else was refused before
        os.rename(staging, dest)
        fsync_dir(dest.parent)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _explain_uncached(exc: OSError, repo: HubRepo, endpoint: str | None, cache_dir: str | Path | None) -> None:
    """snapshot_download says 'not in the cache' for a network failure too: say which, and name cached revisions."""
    from huggingface_hub import constants, errors

    if not isinstance(exc, errors.LocalEntryNotFoundError):
        return
    cache = Path(cache_dir or constants.HF_HUB_CACHE)
    refs = cache / f"datasets--{repo.repo_id.replace('/', '--')}" / "refs"
    cached = sorted(p.name for p in refs.iterdir()) if refs.is_dir() else []
    hint = (f"; cached revisions of this repo: {', '.join(cached)} (rerun with HF_HUB_OFFLINE=1 and @REVISION to "
            "use them without the network)" if cached else f"; nothing of this repo is in the Hub cache {cache}")
    if constants.is_offline_mode():
        raise UserError(f"{repo.spec} is not in the Hub cache and HF_HUB_OFFLINE=1 forbids the network; unset "
                        f"HF_HUB_OFFLINE to download it{hint}") from None
    raise HubUnreachable(f"cannot reach {endpoint_of(endpoint)} to download {repo.spec}: the network is down or "
                         f"HF_ENDPOINT is wrong{hint}") from None
