"""publish: put a verified release on the Hugging Face Hub as one commit, tagged vVERSION.

The repo then mirrors the release: its card (README.md, whose `configs:` give one config per
language, so `datasets.load_dataset("OWNER/NAME", "zh")` returns its splits), the parquet and
other files, croissant.json and MANIFEST.json; files of an earlier version that this one lacks are
deleted in the same commit. A version already published (its tag exists, or the branch's
MANIFEST.json is that version) is refused unless `force`. The token is huggingface_hub's (HF_TOKEN
or the stored login); it goes in the Authorization header and nowhere else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tipr_bench.benchmark.manifest import MANIFEST_NAME, IntegrityError, manifest_files, parse_manifest, verify_release
from tipr_bench.core.errors import UserError
from tipr_bench.release.hub import LOGIN_HINT, HubRepo, check_repo_id, endpoint_of, hub_errors

_BRANCH = re.compile(r"^(?!.*\.\.)(?!/)(?!.*/$)[A-Za-z0-9._/-]{1,200}$")
KEEP = frozenset({".gitattributes"})  # the Hub's own file: never deleted


@dataclass
class PublishResult:
    repo_id: str
    branch: str
    tag: str
    commit: str
    commit_url: str
    files: int
    bytes: int
    deleted: list[str]
    private: bool

    def as_dict(self) -> dict:
        return {"repo": self.repo_id, "branch": self.branch, "tag": self.tag, "commit": self.commit,
                "commit_url": self.commit_url, "files": self.files, "bytes": self.bytes, "deleted": self.deleted,
                "private": self.private}


def version_tag(version: str) -> str:
    return f"v{version}"


def publish_release(
    release_dir: str | Path,
    repo_id: str,
    *,
    revision: str | None = None,
    private: bool = False,
    force: bool = False,
    endpoint: str | None = None,
    token: str | None = None,
) -> PublishResult:
    """Publish the release at `release_dir` to dataset repo `repo_id` (created if needed) on branch `revision`."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, get_token
    from huggingface_hub.errors import RevisionNotFoundError
    from huggingface_hub.hf_api import RepoFile

    root = Path(release_dir)
    check_repo_id(repo_id)
    branch = revision or "main"
    if not _BRANCH.match(branch):
        raise UserError(f"--revision {branch!r} is not a branch name: use letters, digits, . _ - and /")
    name, version, files = _verified_release(root)
    token = token or get_token()
    if not token:
        raise UserError(f"publishing needs a Hub token with write access: {LOGIN_HINT}")
    tag = version_tag(version)
    api = HfApi(endpoint=endpoint, token=token)
    repo = HubRepo(repo_id, branch)
    with hub_errors(repo, endpoint, "publishing"):
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        try:
            info = api.repo_info(repo_id, repo_type="dataset", revision=branch)
            head = info.sha
        except RevisionNotFoundError:  # a new branch: made only once nothing refuses the publish
            info, head = api.repo_info(repo_id, repo_type="dataset"), None
        is_private = bool(info.private)  # an existing repo keeps its visibility, whatever --private says
        remote = [f.path for f in api.list_repo_tree(repo_id, repo_type="dataset", revision=head, recursive=True)
                  if isinstance(f, RepoFile)] if head else []
        tags = {t.name for t in api.list_repo_refs(repo_id, repo_type="dataset").tags}
        published = tag in tags or _remote_version(api, repo_id, head, remote) == (name, version)
        if published and not force:
            raise UserError(f"{name}@{version} is already published in {repo_id} (tag {tag} or {branch}'s "
                            f"{MANIFEST_NAME}); released versions are immutable: export a new --version, or pass "
                            "--force to publish this one again")
        if head is None:
            api.create_branch(repo_id, repo_type="dataset", branch=branch)
            head = api.repo_info(repo_id, repo_type="dataset", revision=branch).sha
        ours = {f.path for f in files} | {MANIFEST_NAME}
        deleted = sorted(p for p in remote if p not in ours and p not in KEEP)
        operations = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(root / p)) for p in sorted(ours)]
        operations += [CommitOperationDelete(path_in_repo=p) for p in deleted]
        commit = api.create_commit(repo_id, operations=operations, repo_type="dataset", revision=branch,
                                 commit_message=f"{name} {version}", parent_commit=head,
                                 commit_description=f"Release {name}@{version} published with tipr-bench; "
                                                    f"{MANIFEST_NAME} lists every file's sha256.")
        if tag in tags:
            api.delete_tag(repo_id, tag=tag, repo_type="dataset")
        api.create_tag(repo_id, tag=tag, revision=commit.oid, repo_type="dataset",
                       tag_message=f"{name} {version}")
    total = sum(f.size for f in files) + (root / MANIFEST_NAME).stat().st_size
    url = f"{endpoint_of(endpoint)}/datasets/{repo_id}"
    return PublishResult(repo_id, branch, tag, commit.oid, commit.commit_url or url, len(ours), total, deleted,
                         is_private)


def _verified_release(root: Path):
    """(name, version, manifest entries) of an intact release folder; anything else is refused here."""
    report = verify_release(root)  # a UserError when it is no release at all
    if not report.ok:
        raise IntegrityError(f"{root} is not intact ({report.problems[0]}); run `tipr-bench verify {root}`; "
                             "nothing was published")
    manifest = parse_manifest((root / MANIFEST_NAME).read_bytes(), str(root / MANIFEST_NAME))
    files = manifest_files(manifest)
    if "README.md" not in {f.path for f in files}:
        raise UserError(f"{root} has no dataset card README.md; export the release again with this tipr-bench")
    return report.name, report.version, files


def _remote_version(api, repo_id: str, head: str, remote: list[str]) -> tuple[str, str] | None:
    """(name, version) of the MANIFEST.json at `head`, if the branch holds a tipr-bench release."""
    if MANIFEST_NAME not in remote:
        return None
    path = api.hf_hub_download(repo_id, MANIFEST_NAME, repo_type="dataset", revision=head)
    try:
        doc = json.loads(Path(path).read_text("utf-8"))
        return str(doc.get("name")), str(doc.get("version"))
    except (OSError, ValueError, AttributeError):
        return None
