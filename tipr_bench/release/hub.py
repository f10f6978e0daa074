"""What download and publish share about the Hugging Face Hub: repo names, and turning what
`huggingface_hub` raises into one line that says what happened and what to do.

The Hub's address, token and cache are huggingface_hub's own (HF_ENDPOINT, HF_TOKEN or the stored
`hf auth login`, HF_HOME / HF_HUB_CACHE, HF_HUB_OFFLINE), so any server speaking the Hub's API works.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tipr_bench.core.errors import UserError, brief

LOGIN_HINT = "set HF_TOKEN or run `hf auth login`"
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}"
_REPO_ID = re.compile(rf"^{_NAME}/{_NAME}$")
_SPEC = re.compile(rf"^hf://datasets/({_NAME}/{_NAME})(?:@([^\s@]+))?/?$")


class HubUnreachable(Exception):
    """The Hub could not be reached (network down, wrong HF_ENDPOINT): not the input's fault, exit 1."""


@dataclass(frozen=True, slots=True)
class HubRepo:
    repo_id: str
    revision: str | None  # None: the default branch

    @property
    def spec(self) -> str:
        return f"hf://datasets/{self.repo_id}" + (f"@{self.revision}" if self.revision else "")


def is_hub_spec(spec: str) -> bool:
    return spec.strip().startswith("hf://")


def parse_hub_spec(spec: str) -> HubRepo:
    m = _SPEC.match(spec.strip())
    if not m:
        raise UserError(f"{spec!r} is not a Hub dataset: write hf://datasets/OWNER/NAME or "
                        "hf://datasets/OWNER/NAME@REVISION (a branch, tag or commit sha)")
    return HubRepo(m.group(1), m.group(2))


def check_repo_id(repo_id: str, what: str = "--repo") -> str:
    if not _REPO_ID.match(repo_id):
        raise UserError(f"{what} {repo_id!r} is not a Hub repo name: write OWNER/NAME (letters, digits, . _ -)")
    return repo_id


def endpoint_of(endpoint: str | None) -> str:
    from huggingface_hub import constants

    return (endpoint or constants.ENDPOINT).rstrip("/")


@contextmanager
def hub_errors(repo: HubRepo, endpoint: str | None, doing: str) -> Iterator[None]:
    """Translate huggingface_hub's exceptions raised while `doing` something with `repo` into one line."""
    import httpx2
    from huggingface_hub import errors

    where = f"{endpoint_of(endpoint)}/datasets/{repo.repo_id}"
    try:
        yield
    except errors.GatedRepoError:
        raise UserError(f"{repo.spec} is gated: accept its conditions at {where} with your account, then log in "
                        f"({LOGIN_HINT})") from None
    except errors.RepositoryNotFoundError:
        raise UserError(f"{repo.spec}: no such dataset repo at {endpoint_of(endpoint)}, or it is private and this "
                        f"token may not read it; check OWNER/NAME, or log in ({LOGIN_HINT})") from None
    except errors.RevisionNotFoundError:
        raise UserError(f"{repo.spec}: the repo has no revision {repo.revision!r}; give a branch, tag or "
                        f"commit sha that {where} has") from None
    except errors.OfflineModeIsEnabled:
        raise UserError(f"{repo.spec} is not in the Hub cache and HF_HUB_OFFLINE=1 forbids the network; unset "
                        "HF_HUB_OFFLINE to download it") from None
    except errors.HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            raise UserError(f"{where} refused the token (401) while {doing}: it is missing, invalid or expired; "
                            f"{LOGIN_HINT}") from None
        if status == 403:
            raise UserError(f"{where} refused access (403) while {doing}: the token lacks the permission; use a "
                            f"token with {'write' if 'publish' in doing else 'read'} access ({LOGIN_HINT})") from None
        raise HubUnreachable(f"{where} answered HTTP {status} while {doing}: "
                             f"{brief(exc.server_message or str(exc))}") from None
    except (httpx2.ConnectError, httpx2.TimeoutException, errors.LocalEntryNotFoundError) as exc:
        raise HubUnreachable(f"cannot reach {endpoint_of(endpoint)} while {doing} ({brief(str(exc))}): the "
                             "network is down or HF_ENDPOINT is wrong") from None
