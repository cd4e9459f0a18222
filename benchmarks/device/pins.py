"""The exact versions (from uv.lock) of the wheels the GPU machine lacks, as thresher resolves them there.

The GPU machine runs Python 3.12 on Linux x86-64, so each name in ``wheels.txt`` is looked up in the lock
under that environment's markers: the machine gets the versions this project's lock (and CI) pins, not
whatever PyPI has today. Prints one ``name==version  # size MiB`` line per wheel (the size is the lock's
record of the manylinux x86-64 cp312 wheel) and fails on a name the lock does not hold.

    uv run python benchmarks/device/pins.py [--lock uv.lock] [--names benchmarks/device/wheels.txt]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tomllib
from packaging.markers import Marker
from packaging.tags import Tag
from packaging.utils import parse_wheel_filename

ROOT = Path(__file__).resolve().parents[2]
# The lent GPU machine (docs: /work/.library/device/KINDS.md): Python 3.12.3, Linux, x86-64.
TARGET = {
    "python_full_version": "3.12.3",
    "python_version": "3.12",
    "sys_platform": "linux",
    "platform_machine": "x86_64",
    "platform_system": "Linux",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
}


def wanted_names(path: Path) -> list[str]:
    """The names in ``wheels.txt``: one per line, ``#`` starts a comment."""
    names = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [name for name in names if name]


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _applies(package: dict) -> bool:
    markers = package.get("resolution-markers")
    return not markers or any(Marker(m).evaluate(TARGET) for m in markers)


def _linux_wheel_size(package: dict) -> int | None:
    """Bytes of the lock's wheel for CPython 3.12 on manylinux x86-64 (None: no such wheel recorded)."""
    for wheel in package.get("wheels", []):
        filename = wheel["url"].rsplit("/", 1)[-1]
        tags: frozenset[Tag] = parse_wheel_filename(filename)[3]
        for tag in tags:
            linux = tag.platform == "any" or (
                tag.platform.startswith("manylinux") and tag.platform.endswith("x86_64")
            )
            if linux and tag.abi in ("cp312", "abi3", "none") and tag.interpreter[:2] in ("cp", "py"):
                return wheel.get("size")
    return None


def pins(lock: Path, names: list[str]) -> list[tuple[str, str, int | None]]:
    """(name, version, wheel bytes) for each name, the version the lock resolves for the GPU machine."""
    packages = tomllib.loads(lock.read_text())["package"]
    out = []
    for name in names:
        matches = [p for p in packages if _normal(p["name"]) == _normal(name) and _applies(p)]
        if len(matches) != 1:
            raise SystemExit(
                f"error: uv.lock resolves {len(matches)} versions of {name!r} for Python 3.12 on Linux; "
                "expected exactly one (is it a dependency of thresher?)"
            )
        package = matches[0]
        out.append((package["name"], package["version"], _linux_wheel_size(package)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=ROOT / "uv.lock")
    parser.add_argument("--names", type=Path, default=Path(__file__).with_name("wheels.txt"))
    args = parser.parse_args()
    for name, version, size in pins(args.lock, wanted_names(args.names)):
        size_note = "size unknown" if size is None else f"{size / 2**20:.1f} MiB"
        print(f"{name}=={version}  # {size_note}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
