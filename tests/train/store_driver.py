"""Run under `accelerate launch`: open (building what is missing) a source's pixel store and a latent store,
and write what this rank sees, so a test can compare N processes with one."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from thresher.catalog import image_store_build
from thresher.catalog.image_store_build import open_store
from thresher.catalog.samples import ok_sample_ids
from thresher.catalog.workspace import Workspace
from thresher.device import process_state
from thresher.train.latents import VaeEncoder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--vae", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    ws = Workspace(args.workspace)
    ids = ok_sample_ids(ws, "mnist-lt")
    state = process_state("cpu")
    seen = {}
    written: list[int] = []
    write = image_store_build.write_part

    def recording(folder, index, *rest, **columns):  # which parts this rank built
        written.append(index)
        write(folder, index, *rest, **columns)

    image_store_build.write_part = recording
    for name, encoder in (("pixels", None), ("latents", VaeEncoder(args.vae, "cpu"))):
        view = open_store(ws, "mnist-lt", ids, size=16, encoder=encoder, part_rows=256, device="cpu")
        rows = view.take(np.arange(len(view)))
        seen[name] = {"folder": str(view.folder), "sha1": hashlib.sha1(rows.tobytes()).hexdigest(),
                      "shape": list(rows.shape), "written": list(written)}  # fmt: skip
        written.clear()
    Path(args.out, f"rank-{state.process_index}.json").write_text(json.dumps(seen))


if __name__ == "__main__":
    main()
