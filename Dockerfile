# thresher on a CUDA machine: torch's PyPI wheels bring their own CUDA libraries; the base image
# provides the CUDA 12 runtime that faiss-gpu-cu12 links against.
FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv

WORKDIR /opt/thresher
COPY pyproject.toml uv.lock README.md ./
COPY thresher ./thresher
# faiss-cpu is a base dependency; with the gpu extra both wheels ship a `faiss` module, so the
# GPU build is reinstalled last to own it.
RUN uv sync --locked --no-dev --extra gpu \
 && uv pip uninstall faiss-cpu \
 && uv pip install --reinstall --no-deps "$(grep -A1 'name = "faiss-gpu-cu12"' uv.lock | sed -n 's/version = "\(.*\)"/faiss-gpu-cu12==\1/p')"

ENV PATH=/opt/thresher/.venv/bin:$PATH \
    THRESHER_WORKSPACE=/workspace
VOLUME /workspace
ENTRYPOINT ["thresher"]
CMD ["--help"]
