"""A loopback Hugging Face Hub for tests: the endpoints `huggingface_hub` calls, on 127.0.0.1.

It speaks what `snapshot_download`, `HfApi.create_repo` and `HfApi.create_commit` use (read from
huggingface_hub's own source): repo info (`/api/datasets/R[/revision/REV]`), the recursive tree
listing, `HEAD`/`GET /datasets/R/resolve/REV/PATH` with the headers the client checks
(`X-Repo-Commit`, `ETag`; for LFS files a 302 to a CDN on another origin with `X-Linked-Etag` and
`X-Linked-Size`), `POST /api/repos/create`, `/api/validate-yaml`, `/api/datasets/R/preupload/REV`,
the git-LFS batch API with basic PUT uploads and verify, branch creation, and the NDJSON
`/api/datasets/R/commit/REV`. Errors carry the `X-Error-Code` header the client maps to its
exception types (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo).

Xet storage (the Hub's content-addressed upload protocol, spoken by the Rust `hf_xet` client) is
not served: tests run the client with HF_HUB_DISABLE_XET=1, which makes it use plain git-LFS.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

import yaml

LFS_PATTERNS = ("*.parquet", "*.arrow", "*.bin", "*.zip", "*.gz", "*.zst", "*.npz")  # the Hub's default .gitattributes
LFS_THRESHOLD = 10 * 1024 * 1024
_HEX40 = re.compile(r"^[0-9a-f]{40}$")


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    return (f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(data).hexdigest()}\n"
            f"size {len(data)}\n").encode()


@dataclass
class Commit:
    oid: str
    parent: str | None
    summary: str
    files: dict[str, bytes]
    lfs: set[str]  # paths stored through git-LFS


@dataclass
class Repo:
    repo_id: str
    private: bool = False
    gated: bool = False
    granted: set[str] = field(default_factory=set)  # tokens that accepted a gated repo's conditions
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        oid = self.branches.get(revision) or self.tags.get(revision)
        if oid is None and _HEX40.match(revision) and revision in self.commits:
            oid = revision
        return self.commits.get(oid) if oid else None

    def commit(self, branch: str, summary: str, files: dict[str, bytes], lfs: set[str]) -> Commit:
        parent = self.branches.get(branch)
        seed = f"{parent}\n{summary}\n{len(self.commits)}\n" + "".join(
            f"{p}:{hashlib.sha256(files[p]).hexdigest()}\n" for p in sorted(files))
        oid = hashlib.sha1(seed.encode()).hexdigest()
        self.commits[oid] = Commit(oid, parent, summary, dict(files), set(lfs))
        self.branches[branch] = oid
        return self.commits[oid]


class HubServer:
    """`with HubServer() as hub:` then point HF_ENDPOINT at `hub.url`. Tokens: `hub.tokens[token] = user`,
    `hub.writers` may write; state lives in `hub.repos`; every request is logged in `hub.requests`."""

    def __init__(self):
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.tokens: dict[str, str] = {}
        self.writers: set[str] = set()
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Authorization header)
        self.lock = threading.Lock()
        self.api = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(cdn=False))
        self.cdn = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(cdn=True))
        self.threads = []
        for httpd in (self.api, self.cdn):
            httpd.daemon_threads = True
            self.threads.append(threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                                 daemon=True))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api.server_address[1]}"

    @property
    def cdn_url(self) -> str:
        return f"http://127.0.0.1:{self.cdn.server_address[1]}"

    def __enter__(self) -> HubServer:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        for httpd in (self.api, self.cdn):
            httpd.shutdown()
            httpd.server_close()

    # -- seeding -----------------------------------------------------------------------------

    def add_repo(self, repo_id: str, files: dict[str, bytes], *, private: bool = False, gated: bool = False,
                 lfs_globs: tuple[str, ...] = (), summary: str = "initial commit") -> Repo:
        """A repo with one commit on main; files matching `lfs_globs` (or the Hub's defaults) are stored in LFS."""
        repo = self.repos[repo_id] = Repo(repo_id, private=private, gated=gated)
        files = {".gitattributes": "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n"
                                           for p in LFS_PATTERNS).encode(), **files}
        lfs = {p for p in files if self.is_lfs(p, len(files[p])) or any(fnmatch.fnmatch(p, g) for g in lfs_globs)}
        for p in lfs:
            self.lfs[hashlib.sha256(files[p]).hexdigest()] = files[p]
        repo.commit("main", summary, files, lfs)
        return repo

    @staticmethod
    def is_lfs(path: str, size: int) -> bool:
        return size > LFS_THRESHOLD or any(fnmatch.fnmatch(path.rsplit("/", 1)[-1], p) for p in LFS_PATTERNS)

    # -- the handler -------------------------------------------------------------------------

    def _handler(self, cdn: bool):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:
                self._route("HEAD")

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def do_PUT(self) -> None:
                self._route("PUT")

            def do_DELETE(self) -> None:
                self._route("DELETE")

            # -- plumbing --

            def _route(self, method: str) -> None:
                parsed = urlparse(self.path)
                path, query = unquote(parsed.path), parse_qs(parsed.query)
                with hub.lock:
                    hub.requests.append((method, ("cdn:" if cdn else "") + path, self.headers.get("Authorization")))
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                if cdn:
                    return self._cdn(method, path)
                routes = [
                    ("GET", r"^/api/datasets/([^/]+/[^/]+)(?:/revision/(.+))?$", self._info),
                    ("GET", r"^/api/datasets/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?$", self._tree),
                    ("HEAD", r"^/datasets/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", self._resolve),
                    ("GET", r"^/datasets/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", self._resolve),
                    ("POST", r"^/api/repos/create$", self._create),
                    ("POST", r"^/api/validate-yaml$", self._validate_yaml),
                    ("POST", r"^/api/datasets/([^/]+/[^/]+)/preupload/(.+)$", self._preupload),
                    ("POST", r"^/datasets/([^/]+/[^/]+)\.git/info/lfs/objects/batch$", self._lfs_batch),
                    ("PUT", r"^/lfs/upload/([0-9a-f]{64})$", self._lfs_put),
                    ("POST", r"^/lfs/verify$", self._lfs_verify),
                    ("GET", r"^/api/datasets/([^/]+/[^/]+)/refs$", self._refs),
                    ("POST", r"^/api/datasets/([^/]+/[^/]+)/branch/(.+)$", self._branch),
                    ("POST", r"^/api/datasets/([^/]+/[^/]+)/tag/(.+)$", self._tag),
                    ("DELETE", r"^/api/datasets/([^/]+/[^/]+)/tag/(.+)$", self._untag),
                    ("POST", r"^/api/datasets/([^/]+/[^/]+)/commit/(.+)$", self._commit),
                ]
                for verb, pattern, handler in routes:
                    if verb == method and (m := re.match(pattern, path)):
                        with hub.lock:
                            return handler(*m.groups(), query=query)
                self._error(404, "", f"no route for {method} {path}")

            def _send(self, status: int, body: bytes = b"", headers: dict | None = None,
                      content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _json(self, status: int, obj, headers: dict | None = None) -> None:
                self._send(status, json.dumps(obj).encode(), headers)

            def _error(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
                extra = {"X-Error-Message": message, **(headers or {})}
                if code:
                    extra["X-Error-Code"] = code
                self._json(status, {"error": message}, extra)

            def _token(self) -> str | None:
                auth = self.headers.get("Authorization") or ""
                return auth.removeprefix("Bearer ").strip() or None

            def _readable(self, repo_id: str) -> Repo | None:
                """The repo when this caller may read it; otherwise answers the error the Hub gives."""
                token = self._token()
                if token is not None and token not in hub.tokens:
                    self._error(401, "", "Invalid credentials in Authorization header")
                    return None
                repo = hub.repos.get(repo_id)
                if repo is None or (repo.private and token is None):
                    self._error(401 if token is None else 404, "RepoNotFound", "Repository not found")
                    return None
                if repo.gated and token not in repo.granted:
                    self._error(401 if token is None else 403, "GatedRepo",
                                f"Access to dataset {repo_id} is restricted. You must have access to it and be "
                                "authenticated to access it. Please log in.")
                    return None
                return repo

            def _writable(self, repo_id: str | None) -> Repo | bool | None:
                token = self._token()
                if token is None or token not in hub.tokens:
                    self._error(401, "", "Invalid credentials in Authorization header")
                    return None
                if token not in hub.writers:
                    self._error(403, "", "You don't have the rights to write to this repo")
                    return None
                if repo_id is None:
                    return True
                repo = hub.repos.get(repo_id)
                if repo is None:
                    self._error(404, "RepoNotFound", "Repository not found")
                return repo

            def _revision(self, repo: Repo, revision: str) -> Commit | None:
                commit = repo.resolve(revision)
                if commit is None:
                    self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
                return commit

            # -- read endpoints --

            def _info(self, repo_id: str, revision: str | None, query) -> None:
                if (repo := self._readable(repo_id)) and (commit := self._revision(repo, revision or "main")):
                    self._json(200, {
                        "_id": hashlib.md5(repo_id.encode()).hexdigest()[:24], "id": repo_id,
                        "author": repo_id.split("/")[0], "sha": commit.oid, "private": repo.private,
                        "gated": "auto" if repo.gated else False, "disabled": False,
                        "lastModified": "2026-01-01T00:00:00.000Z", "tags": [], "downloads": 0, "likes": 0,
                        "siblings": [{"rfilename": p} for p in sorted(commit.files)],
                    })

            def _tree(self, repo_id: str, revision: str, prefix: str | None, query) -> None:
                if not ((repo := self._readable(repo_id)) and (commit := self._revision(repo, revision))):
                    return
                recursive = query.get("recursive", ["False"])[0].lower() == "true"
                base = f"{prefix.rstrip('/')}/" if prefix else ""
                entries, folders = [], set()
                for path in sorted(commit.files):
                    if not path.startswith(base):
                        continue
                    rest = path[len(base):]
                    parts = rest.split("/")
                    for i in range(1, len(parts)):
                        folders.add(base + "/".join(parts[:i]))
                    if "/" in rest and not recursive:
                        continue
                    data = commit.files[path]
                    entry = {"type": "file", "path": path, "size": len(data)}
                    if path in commit.lfs:
                        pointer = lfs_pointer(data)
                        entry["oid"] = git_blob_oid(pointer)
                        entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                                        "pointerSize": len(pointer)}
                    else:
                        entry["oid"] = git_blob_oid(data)
                    entries.append(entry)
                shown = sorted(f for f in folders if recursive or "/" not in f[len(base):])
                dirs = [{"type": "directory", "path": f, "size": 0,
                         "oid": hashlib.sha1(f.encode()).hexdigest()} for f in shown]
                self._json(200, dirs + entries)

            def _resolve(self, repo_id: str, revision: str, path: str, query) -> None:
                if not ((repo := self._readable(repo_id)) and (commit := self._revision(repo, revision))):
                    return
                if path not in commit.files:
                    self._error(404, "EntryNotFound", f"{path} does not exist on {revision}",
                                {"X-Repo-Commit": commit.oid})
                    return
                data = commit.files[path]
                if path in commit.lfs:
                    sha = hashlib.sha256(data).hexdigest()
                    self._send(302, b"", {"Location": f"{hub.cdn_url}/cdn/{sha}", "X-Repo-Commit": commit.oid,
                                          "X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(len(data)),
                                          "ETag": f'"{git_blob_oid(lfs_pointer(data))}"'})
                    return
                self._body_with_range(data, {"X-Repo-Commit": commit.oid, "ETag": f'"{git_blob_oid(data)}"'})

            def _cdn(self, method: str, path: str) -> None:
                m = re.match(r"^/cdn/([0-9a-f]{64})$", path)
                data = hub.lfs.get(m.group(1)) if m else None
                if method not in ("GET", "HEAD") or data is None:
                    self._send(404, b"NoSuchKey", content_type="text/plain")
                    return
                self._body_with_range(data, {"ETag": f'"{m.group(1)}"'})

            def _body_with_range(self, data: bytes, headers: dict) -> None:
                start = 0
                if (rng := self.headers.get("Range")) and (m := re.match(r"bytes=(\d+)-(\d*)$", rng)):
                    start = int(m.group(1))
                    if start >= len(data) > 0:
                        self._send(416, b"", {"Content-Range": f"bytes */{len(data)}", **headers})
                        return
                    headers = {**headers, "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
                self._send(206 if start else 200, data[start:], {"Accept-Ranges": "bytes", **headers},
                           content_type="application/octet-stream")

            # -- write endpoints --

            def _create(self, query) -> None:
                if not self._writable(None):
                    return
                payload = json.loads(self.body)
                repo_id = f"{payload.get('organization') or hub.tokens[self._token()]}/{payload['name']}"
                url = f"{hub.url}/datasets/{repo_id}"
                if payload.get("type") != "dataset":
                    self._error(400, "", "this loopback Hub holds dataset repos only")
                elif repo_id in hub.repos:
                    message = "You already created this dataset repo"
                    self._json(409, {"error": message, "url": url}, {"X-Error-Message": message})
                else:
                    private = payload.get("visibility") == "private" or bool(payload.get("private"))
                    repo = hub.repos[repo_id] = Repo(repo_id, private=private)
                    repo.commit("main", "initial commit", {".gitattributes": "".join(
                        f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS).encode()}, set())
                    self._json(200, {"url": url, "name": repo_id, "id": hashlib.md5(repo_id.encode()).hexdigest()})

            def _validate_yaml(self, query) -> None:
                content = json.loads(self.body)["content"]
                m = re.match(r"^---\n(.*?)\n---\n", content, re.S)
                try:
                    meta = yaml.safe_load(m.group(1)) if m else None
                except yaml.YAMLError as exc:
                    self._json(400, {"errors": [{"message": f"Invalid YAML: {exc}"}], "warnings": []})
                    return
                warnings = [] if isinstance(meta, dict) and meta else [{"message": "empty or missing yaml metadata"}]
                self._json(200, {"errors": [], "warnings": warnings})

            def _preupload(self, repo_id: str, revision: str, query) -> None:
                if not ((repo := self._writable(repo_id)) and (commit := self._revision(repo, revision))):
                    return
                out = []
                for f in json.loads(self.body)["files"]:
                    lfs = hub.is_lfs(f["path"], f["size"])
                    old = commit.files.get(f["path"])
                    oid = None
                    if old is not None:
                        oid = hashlib.sha256(old).hexdigest() if lfs else git_blob_oid(old)
                    out.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                                "oid": oid})
                self._json(200, {"files": out, "commitOid": commit.oid})

            def _lfs_batch(self, repo_id: str, query) -> None:
                if not self._writable(repo_id):
                    return
                payload = json.loads(self.body)
                if payload.get("operation") != "upload" or "basic" not in payload.get("transfers", []):
                    self._json(422, {"message": "this loopback Hub takes basic LFS uploads only"})
                    return
                objects = []
                for obj in payload["objects"]:
                    entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
                    if obj["oid"] not in hub.lfs:
                        entry["actions"] = {"upload": {"href": f"{hub.url}/lfs/upload/{obj['oid']}"},
                                            "verify": {"href": f"{hub.url}/lfs/verify"}}
                    objects.append(entry)
                self._json(200, {"transfer": "basic", "objects": objects})

            def _lfs_put(self, oid: str, query) -> None:
                if hashlib.sha256(self.body).hexdigest() != oid:
                    self._json(400, {"message": "sha256 of the body differs from the object id"})
                    return
                hub.lfs[oid] = self.body
                self._send(200)

            def _lfs_verify(self, query) -> None:
                obj = json.loads(self.body)
                ok = obj["oid"] in hub.lfs and len(hub.lfs[obj["oid"]]) == obj["size"]
                self._json(200 if ok else 404, {"message": "ok" if ok else "object not found"})

            def _refs(self, repo_id: str, query) -> None:
                if repo := self._readable(repo_id):
                    refs = lambda kind, names: [{"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": oid}  # noqa: E731
                                                for n, oid in sorted(names.items())]
                    self._json(200, {"branches": refs("heads", repo.branches), "tags": refs("tags", repo.tags),
                                     "converts": [], "pullRequests": []})

            def _tag(self, repo_id: str, revision: str, query) -> None:
                if not ((repo := self._writable(repo_id)) and (commit := self._revision(repo, revision))):
                    return
                tag = json.loads(self.body)["tag"]
                if tag in repo.tags or tag in repo.branches:
                    self._error(409, "", f"tag {tag} already exists")
                    return
                repo.tags[tag] = commit.oid
                self._json(200, {})

            def _untag(self, repo_id: str, tag: str, query) -> None:
                if not (repo := self._writable(repo_id)):
                    return
                if repo.tags.pop(tag, None) is None:
                    self._error(404, "RevisionNotFound", f"no tag {tag}")
                    return
                self._json(200, {})

            def _branch(self, repo_id: str, branch: str, query) -> None:
                if not (repo := self._writable(repo_id)):
                    return
                if branch in repo.branches:
                    self._error(409, "", f"branch {branch} already exists")
                    return
                start = json.loads(self.body or b"{}").get("startingPoint") or "main"
                if commit := self._revision(repo, start):
                    repo.branches[branch] = commit.oid
                    self._json(200, {})

            def _commit(self, repo_id: str, revision: str, query) -> None:
                if not ((repo := self._writable(repo_id)) and (commit := self._revision(repo, revision))):
                    return
                if revision not in repo.branches:
                    self._error(400, "", f"{revision} is not a branch; commits go to branches")
                    return
                files, lfs, summary = dict(commit.files), set(commit.lfs), ""
                for line in self.body.decode().splitlines():
                    item = json.loads(line)
                    value = item["value"]
                    if item["key"] == "header":
                        summary = value["summary"]
                        if value.get("parentCommit") not in (None, commit.oid):
                            self._error(412, "", "parent commit is not the head of the branch")
                            return
                    elif item["key"] == "file":
                        files[value["path"]] = base64.b64decode(value["content"])
                        lfs.discard(value["path"])
                    elif item["key"] == "lfsFile":
                        if value["oid"] not in hub.lfs:
                            self._error(422, "", f"LFS object {value['oid']} of {value['path']} was never uploaded")
                            return
                        files[value["path"]] = hub.lfs[value["oid"]]
                        lfs.add(value["path"])
                    elif item["key"] == "deletedFile":
                        if value["path"] not in files:
                            self._error(404, "EntryNotFound", "A file with this name doesn't exist")
                            return
                        del files[value["path"]]
                        lfs.discard(value["path"])
                    else:
                        self._error(400, "", f"unsupported commit operation {item['key']}")
                        return
                new = repo.commit(revision, summary, files, lfs)
                self._json(200, {"success": True, "commitOid": new.oid,
                                 "commitUrl": f"{hub.url}/datasets/{repo_id}/commit/{new.oid}"})

        return Handler
