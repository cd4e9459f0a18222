"""Names, run ids and config hashes: the small, dependency-free part of the catalog (configs import it)."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import asdict, is_dataclass
from datetime import datetime, timezone
from typing import Any

from thresher.errors import ThresherError

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def config_hash(config: Any) -> str:
    """A stable short hash of a config (dataclass or JSON-able value), for "same inputs" checks."""
    payload = asdict(config) if is_dataclass(config) else config
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def new_run_id(kind: str) -> str:
    return f"{kind}-{utcnow():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def check_name(name: str, what: str = "name") -> str:
    """Names become folder names: refuse anything that could escape the workspace."""
    if not _NAME_PATTERN.match(name) or ".." in name:
        raise ThresherError(
            f"invalid {what} {name!r}: use letters, digits, '.', '_' and '-' (no '/', no '..', at most 100 chars)"
        )
    return name
