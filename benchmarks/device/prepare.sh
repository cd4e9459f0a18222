#!/usr/bin/env bash
# Download, here, the wheels the lent GPU machine lacks (benchmarks/device/wheels.txt, versions from uv.lock)
# into benchmarks/device/wheels/ (git-ignored), for CPython 3.12 on manylinux x86-64, without dependencies.
# The whole working tree travels to that machine, 64 MiB at most per call: fail if the wheels exceed 60 MiB,
# or if they and the rest of the tree exceed 63 MiB.
#
#     bash benchmarks/device/prepare.sh            # then: the device tool runs `bash benchmarks/device/run.sh`
set -euo pipefail

KIT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$KIT/../.." && pwd)"
WHEELS="$KIT/wheels"
LIMIT_MIB=60
TREE_LIMIT_MIB=63
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"  # reads uv.lock (tomllib, packaging)
PIP="${PIP:-python3 -m pip}"               # any pip that can reach PyPI

cd "$ROOT"
pins="$("$PYTHON" "$KIT/pins.py")"
echo "$pins"
rm -rf "$WHEELS"
mkdir -p "$WHEELS"
# One version of each: pip download fetches exactly the pins (no dependencies: the machine has the rest).
# manylinux tags are matched exactly, so name every glibc level a wheel of these packages is built for.
platforms=()
for tag in manylinux_2_39 manylinux_2_35 manylinux_2_34 manylinux_2_31 manylinux_2_28 manylinux_2_27 \
    manylinux_2_24 manylinux_2_17 manylinux2014 manylinux1; do
    platforms+=(--platform "${tag}_x86_64")
done
sed 's/ *#.*//' <<<"$pins" | xargs $PIP download --quiet --no-deps --only-binary=:all: \
    --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
    "${platforms[@]}" --platform any -d "$WHEELS"

count="$(find "$WHEELS" -name '*.whl' | wc -l)"
expected="$(wc -l <<<"$pins")"
if [ "$count" -ne "$expected" ]; then
    echo "error: $count wheels in $WHEELS, expected $expected (one per pin)" >&2
    exit 1
fi
bytes="$(du -cb "$WHEELS"/*.whl | tail -1 | cut -f1)"
tree_bytes="$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | awk '$2 == "total" {s += $1} END {print s + 0}')"
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
ls -l "$WHEELS"
echo "wheels: $count files, $(mib "$bytes") MiB (limit $LIMIT_MIB MiB); with the working tree ($(mib "$tree_bytes") MiB): $(mib $((bytes + tree_bytes))) MiB (limit $TREE_LIMIT_MIB MiB)"
if [ "$bytes" -gt $((LIMIT_MIB * 1048576)) ]; then
    echo "error: the wheels take $(mib "$bytes") MiB, over $LIMIT_MIB MiB" >&2
    exit 1
fi
if [ $((bytes + tree_bytes)) -gt $((TREE_LIMIT_MIB * 1048576)) ]; then
    echo "error: wheels and working tree take $(mib $((bytes + tree_bytes))) MiB, over $TREE_LIMIT_MIB MiB" >&2
    exit 1
fi
echo "ready: run the kit on the device with carry [\"benchmarks/device/wheels\"] and command 'bash benchmarks/device/run.sh'"
