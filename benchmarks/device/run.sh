#!/usr/bin/env bash
# The GPU kit: on the lent GPU machine (after prepare.sh here), install the carried wheels, run the CUDA
# correctness tests and the throughput checks, and write every figure to $OUT/*.json and the log to
# $OUT/kit.log. Each stage has its own time limit; on CUDA they add up to 7.4 minutes at the very most
# (install 60 s, tests 160 s, checks 225 s), so a 15-minute lease leaves room for a rerun. Without CUDA (here) the same script runs with the CUDA tests skipped and small sizes.
#
#     device run: command 'bash benchmarks/device/run.sh', carry ["benchmarks/device/wheels"]
#     here:       OUT=/tmp/kit bash benchmarks/device/run.sh
set -uo pipefail

KIT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$KIT/../.." && pwd)"
OUT="${OUT:-$ROOT/kit-out}"
mkdir -p "$OUT"
LOG="$OUT/kit.log"
cd "$ROOT"
exec > >(tee -a "$LOG") 2>&1
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false MPLBACKEND=Agg
export CUBLAS_WORKSPACE_CONFIG=:4096:8
START=$SECONDS

# Python: the machine's own python3 (it holds torch) with the carried wheels and this checkout on the path;
# here, where no wheels were installed into a target, the project's virtual environment.
if [ -d "$KIT/wheels" ] && ls "$KIT"/wheels/*.whl >/dev/null 2>&1 && ! "$ROOT/.venv/bin/python" -c "" 2>/dev/null; then
    PY=python3
    SITE=/tmp/thresher-site
    timeout 60 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" "$KIT"/wheels/*.whl || { echo "error: installing the carried wheels failed"; exit 1; }
    export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
else
    PY="$ROOT/.venv/bin/python"
fi

stage() {  # stage NAME SECONDS COMMAND...: run with a time limit; the log says how it ended and how long it took
    local name=$1 limit=$2
    shift 2
    local begin=$SECONDS
    echo "=== $name (limit ${limit}s, load average $(cut -d' ' -f1 /proc/loadavg)) ==="
    timeout --kill-after=10 "$limit" "$@"
    local rc=$?
    echo "=== $name: exit $rc after $((SECONDS - begin))s ($([ $rc -eq 124 ] && echo 'timed out' || echo done)) ==="
}

CUDA=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)
stage environment 30 "$PY" "$KIT/environment.py" --json "$OUT/environment.json"

if [ "$CUDA" = 1 ]; then
    stage cuda-tests 160 "$PY" -m pytest -m cuda tests/gpu -q -p no:cacheprovider --junitxml="$OUT/cuda_tests.xml"
    stage embed 45 "$PY" benchmarks/embed_jpeg.py --images 2048 --batch-size 256 --workers 12 --json "$OUT/embed.json"
    stage grand 35 "$PY" benchmarks/grand_throughput.py --preset dit-s2 --n 64 --loop-n 16 --repeats 2 --json "$OUT/grand.json"
    stage train 75 "$PY" benchmarks/train_throughput.py --cases dit-s2-latent32 dit-b2-latent32 --bare --steps 30 \
        --batch-size 256 --json "$OUT/train.json"
    stage kmeans 40 "$PY" benchmarks/kmeans.py --n 1000000 --dim 512 --k 1000 --threads 16 --torch-device cuda \
        --skip-sklearn --json "$OUT/kmeans.json"
else
    echo "no CUDA here: the CUDA tests are skipped, the throughput checks run at CPU sizes"
    stage cuda-tests 300 "$PY" -m pytest -m cuda tests/gpu -q -p no:cacheprovider --junitxml="$OUT/cuda_tests.xml"
    stage embed 400 "$PY" benchmarks/embed_jpeg.py --images 16 --batch-size 8 --workers 0 --threads 2 --device cpu \
        --json "$OUT/embed.json"
    stage grand 240 "$PY" benchmarks/grand_throughput.py --preset tiny --n 32 --loop-n 8 --repeats 1 --threads 1 \
        --device cpu --json "$OUT/grand.json"
    stage train 300 "$PY" benchmarks/train_throughput.py --cases dit-s2-latent32 --bare --no-compile --steps 4 --warmup 1 \
        --batch-size 4 --threads 2 --device cpu --json "$OUT/train.json"
    stage kmeans 120 "$PY" benchmarks/kmeans.py --n 20000 --dim 64 --k 50 --threads 2 --torch-device cpu --skip-sklearn \
        --json "$OUT/kmeans.json"
fi
"$PY" "$KIT/summary.py" "$OUT" --seconds $((SECONDS - START))
