"""The Hugging Face Hub side of publishing: one dataset repo per subset, one commit and tag per version.

Only this module talks to `huggingface_hub.HfApi`, so tests swap in a recording fake. A Hub commit is
atomic (`create_commit` with every file of the version); the version becomes visible as the tag ``vN``
after it. If tagging fails the commit is left untagged, nothing is recorded in the catalog, and the error
says so; publishing again re-uses the commit (same content) and tags it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thresher.errors import ThresherError

HUB_PREFIX = "hf://datasets/"
# Files under these folders belong to a version; stale ones from an earlier version are deleted.
MANAGED = ("ids.parquet", "stats.json", "README.md", "scores/", "plots/", "data/")


@dataclass(frozen=True)
class HubTarget:
    repo_id: str

    @property
    def url(self) -> str:
        return f"{HUB_PREFIX}{self.repo_id}"


def parse_hub_target(dest: str) -> HubTarget | None:
    """``hf://datasets/owner/repo`` → HubTarget; anything else is a local path (None)."""
    if not dest.startswith("hf://"):
        return None
    if not dest.startswith(HUB_PREFIX):
        raise ThresherError(f"Hub destination must look like hf://datasets/<owner>/<repo>, got {dest!r}")
    repo_id = dest[len(HUB_PREFIX) :].strip("/")
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts) or ".." in repo_id:
        raise ThresherError(f"Hub destination must look like hf://datasets/<owner>/<repo>, got {dest!r}")
    return HubTarget(repo_id)


def default_api(token: str | None = None) -> Any:
    from huggingface_hub import HfApi

    return HfApi(token=token)


def push_version(api: Any, target: HubTarget, bundle: Path, version: int, *, private: bool = False) -> str:
    """Upload ``bundle`` as one commit and tag it ``v{version}``; returns the commit id."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    tag = f"v{version}"
    try:
        api.create_repo(target.repo_id, repo_type="dataset", private=private, exist_ok=True)
        existing_tags = {
            t.name for t in getattr(api.list_repo_refs(target.repo_id, repo_type="dataset"), "tags", [])
        }
        if tag in existing_tags:
            raise ThresherError(f"{target.url} already has version {tag}; select a new version to publish")
        new_files = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())
        stale = [
            f
            for f in api.list_repo_files(target.repo_id, repo_type="dataset")
            if f not in new_files and f.startswith(MANAGED)
        ]
        operations = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(bundle / f)) for f in new_files]
        operations += [CommitOperationDelete(path_in_repo=f) for f in stale]
        commit = api.create_commit(
            target.repo_id,
            operations,
            repo_type="dataset",
            commit_message=f"thresher: publish {tag}",
        )
    except ThresherError:
        raise
    except Exception as exc:
        raise ThresherError(
            f"publishing to {target.url} failed, no version was created: {_reason(exc)}"
        ) from None
    commit_id = getattr(commit, "oid", None) or str(commit)
    try:
        api.create_tag(target.repo_id, tag=tag, revision=commit_id, repo_type="dataset")
    except Exception as exc:
        raise ThresherError(
            f"uploaded commit {commit_id[:12]} to {target.url} but could not tag it {tag} ({_reason(exc)}); "
            "the version is not visible: publish again to tag it"
        ) from None
    return commit_id


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
