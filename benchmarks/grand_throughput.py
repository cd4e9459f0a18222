"""Per-sample-gradient throughput (samples/s) and peak memory of GraNd: vmap chunks vs batch-size-1 loops.

Every method scores the same model, data and probe points (t, ε) (see docs/architecture.md, 'Gradient
scores'):

* ``vmap``: :func:`thresher.curate.scores.gradient_signals.grand_scores` (torch.func per-sample gradients,
  chunk by chunk);
* ``loop``: one sample at a time through plain autograd, its P probes as one batch of the model,
  ``loss.backward()``, norm of ``.grad`` (the strong baseline);
* ``loop1``: the strictest batch-size-1 loop, one model call per (sample, probe), as a naive
  implementation would do;
* ``floor``: one ordinary batched backward per chunk and no per-sample gradients at all, the throughput no
  per-sample method can beat.

Each method runs in its own process, so peak memory is its own: ``torch.cuda.max_memory_allocated`` on GPU,
the growth of ``ru_maxrss`` over the set-up (model and data built) on CPU, over the warm-up and the timed
passes. Throughput is the best of ``--repeats`` timed passes after a warm-up, the methods taking turns so
that a load spike on a shared machine hits them alike (the median is shown too). The weights are perturbed
from DiT's zero init so every gradient is non-zero, and the methods' scores are compared.

Presets: ``tiny`` is the demo's DiT-T/1 (width 128, depth 4) on 4×7×7 latents; ``dit-s2`` is DiT-S/2 on
4×32×32 latents (the ImageNet-256 latent shape), with fewer samples for the loops.

    uv run python benchmarks/grand_throughput.py --preset tiny --n 64 --loop-n 16 --device cpu --threads 1
    uv run python benchmarks/grand_throughput.py --preset dit-s2 --device auto
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from thresher.train.flow import flow_loss

PRESETS = {
    "tiny": dict(model="DiT-T/1", size=7, channels=4, n=256, loop_n=64),
    "dit-s2": dict(model="DiT-S/2", size=32, channels=4, n=64, loop_n=16),
}


def _setup(args):
    from thresher.curate.scores.gradient_signals import probe_points
    from thresher.device import pick_device
    from thresher.train.model import build_model

    device = pick_device(args.device)
    torch.manual_seed(0)
    model = build_model(
        args.model, args.channels, args.size, args.num_classes, width=args.width, depth=args.depth
    )
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.02 * torch.randn(param.shape, generator=generator))
    model = model.to(device).eval()
    n = min(args.n, args.loop_n) if args.method in ("loop", "loop1") else args.n
    shape = (args.channels, args.size, args.size)
    x = torch.randn(n, *shape, generator=generator)
    labels = torch.arange(n) % args.num_classes
    t, noise = probe_points(np.arange(n), shape, args.k_times, args.m_noises, seed=0)
    return device, model, x, labels, t, noise


def _loop_grand(model, x, labels, t, noise, params):
    from thresher.curate.scores.gradient_signals import probe_flow_loss

    device = next(model.parameters()).device
    chosen = list(params.values())
    out = torch.empty(len(x), dtype=torch.float64)
    for i in range(len(x)):
        model.zero_grad(set_to_none=True)
        loss = probe_flow_loss(
            model, x[i].to(device), labels[i].to(device), t[i].to(device), noise[i].to(device)
        )
        loss.backward()
        out[i] = torch.sqrt(sum(p.grad.double().pow(2).sum() for p in chosen)).cpu()
    return out


def _probe_loop_grand(model, x, labels, t, noise, params):
    """The strictest batch-size-1 loop: one model call per (sample, probe), one backward per sample."""
    device = next(model.parameters()).device
    chosen = list(params.values())
    out = torch.empty(len(x), dtype=torch.float64)
    for i in range(len(x)):
        model.zero_grad(set_to_none=True)
        xi, li = x[i : i + 1].to(device), labels[i : i + 1].to(device)
        loss = 0.0
        for probe in range(t.shape[1]):
            ti, ei = t[i, probe : probe + 1].to(device), noise[i, probe : probe + 1].to(device)
            loss = loss + flow_loss(model, xi, ti, ei, li).sum() / t.shape[1]
        loss.backward()
        out[i] = torch.sqrt(sum(p.grad.double().pow(2).sum() for p in chosen)).cpu()
    return out


def _batched_floor(model, x, labels, t, noise, chunk):
    """One ordinary backward per chunk (no per-sample gradients): the speed any per-sample method is under."""
    device, p = next(model.parameters()).device, t.shape[1]
    for start in range(0, len(x), chunk):
        rows = slice(start, start + chunk)
        model.zero_grad(set_to_none=True)
        xs, labs = (a[rows].to(device).repeat_interleave(p, dim=0) for a in (x, labels))
        flow_loss(
            model, xs, t[rows].to(device).flatten(), noise[rows].to(device).flatten(0, 1), labs
        ).sum().backward()
    return torch.full((len(x),), float("nan"))


def worker(args) -> dict:
    from thresher.curate.scores.gradient_signals import auto_chunk_size, grand_scores, select_parameters

    torch.set_num_threads(args.threads or torch.get_num_threads())
    device, model, x, labels, t, noise = _setup(args)
    params = select_parameters(model, args.params)
    for name, param in model.named_parameters():
        param.requires_grad_(name in params)
    chunk = args.chunk_size or auto_chunk_size(params)
    looped = args.method in ("loop", "loop1")
    warm = 2 if looped else chunk

    def run(rows):
        if args.method == "vmap":
            return grand_scores(model, x[rows], labels[rows], t[rows], noise[rows], params, chunk_size=chunk)
        if args.method == "floor":
            return _batched_floor(model, x[rows], labels[rows], t[rows], noise[rows], chunk)
        if args.method == "loop1":
            return _probe_loop_grand(model, x[rows], labels[rows], t[rows], noise[rows], params)
        return _loop_grand(model, x[rows], labels[rows], t[rows], noise[rows], params)

    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the set-up's peak
    run(slice(0, warm))
    if cuda:
        torch.cuda.synchronize()
    _reply({"ready": True})
    scores = None
    for command in sys.stdin:  # one timed pass per "run", so the parent can interleave the methods
        if command.strip() != "run":
            break
        start = time.perf_counter()
        scores = run(slice(0, len(x)))
        if cuda:
            torch.cuda.synchronize()
        _reply({"seconds": time.perf_counter() - start})
    peak = (
        torch.cuda.max_memory_allocated() - base
        if cuda
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    )
    _reply(
        {
            "method": args.method,
            "device": torch.cuda.get_device_name(device)
            if cuda
            else f"cpu ({torch.get_num_threads()} threads)",
            "samples": len(x),
            "probes": t.shape[1],
            "chunk": 1 if looped else chunk,
            "D": sum(p.numel() for p in params.values()),
            "peak_memory_mib": peak / 2**20,
            "memory_kind": "cuda max allocated" if cuda else "ru_maxrss growth",
            "scores": None if scores is None else scores.tolist(),
        }
    )


def _reply(message: dict) -> None:
    print(json.dumps(message), flush=True)


def _receive(process: subprocess.Popen) -> dict:
    line = process.stdout.readline()
    if not line:
        raise SystemExit(f"a benchmark worker died (exit code {process.wait()})")
    return json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    parser.add_argument("--model", help="DiT size, e.g. DiT-T/1 (default: the preset's)")
    parser.add_argument("--size", type=int, help="latent height = width")
    parser.add_argument("--channels", type=int, help="latent channels")
    parser.add_argument("--width", type=int)
    parser.add_argument("--depth", type=int)
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument("--n", type=int, help="samples for vmap")
    parser.add_argument("--loop-n", type=int, help="samples for the batch-size-1 loop (at most --n)")
    parser.add_argument("--k-times", type=int, default=4)
    parser.add_argument("--m-noises", type=int, default=2)
    parser.add_argument("--params", default="all", choices=("all", "last-block", "final-layer"))
    parser.add_argument("--chunk-size", type=int, default=None, help="samples per vmap chunk (default: auto)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed passes per method; the best and the median are shown"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", help="also write the figures (no scores) to this file")
    parser.add_argument(
        "--method", choices=("vmap", "loop", "loop1", "floor"), help=argparse.SUPPRESS
    )  # a worker process
    args = parser.parse_args()
    for key, value in PRESETS[args.preset].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.method:
        worker(args)
        return
    # One process per method, all set up first, then timed in turns.
    methods = ("loop1", "loop", "vmap", "floor")
    workers = {
        m: subprocess.Popen(
            [sys.executable, __file__, *sys.argv[1:], "--method", m],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for m in methods
    }
    for process in workers.values():
        _receive(process)
    seconds = {m: [] for m in methods}
    for _ in range(args.repeats):
        for m, process in workers.items():
            process.stdin.write("run\n")
            process.stdin.flush()
            seconds[m].append(_receive(process)["seconds"])
    results = {}
    for m, process in workers.items():
        process.stdin.write("done\n")
        process.stdin.flush()
        results[m] = _receive(process)
        process.wait()
        results[m]["samples_per_s"] = results[m]["samples"] / min(seconds[m])
        results[m]["median_samples_per_s"] = results[m]["samples"] / float(np.median(seconds[m]))
    loop1, loop, vmap, floor = (results[m] for m in ("loop1", "loop", "vmap", "floor"))
    common = min(loop["samples"], vmap["samples"])
    a, b = np.array(loop["scores"][:common]), np.array(vmap["scores"][:common])
    c = np.array(loop1["scores"][:common])
    print(
        f"GraNd on {args.model}, {args.channels}x{args.size}x{args.size}, P={vmap['probes']} probes, "
        f"params={args.params} (D={vmap['D']:,}), {vmap['device']}"
    )
    for r in (loop1, loop, vmap, floor):
        print(
            f"  {r['method']:>5}: {r['samples_per_s']:8.1f} samples/s (median {r['median_samples_per_s']:.1f}) "
            f"over {r['samples']} samples "
            f"(chunk {r['chunk']}), peak memory +{r['peak_memory_mib']:.0f} MiB ({r['memory_kind']})"
        )
    print(f"  speed-up vmap/loop: {vmap['samples_per_s'] / loop['samples_per_s']:.2f}x")
    print(f"  speed-up vmap/loop1: {vmap['samples_per_s'] / loop1['samples_per_s']:.2f}x")
    print(
        f"  floor/loop (the most any per-sample method could gain here): {floor['samples_per_s'] / loop['samples_per_s']:.2f}x"
    )
    differences = {}
    for name, other in (("vmap", b), ("loop1", c)):
        differences[name] = float(np.max(np.abs(a - other) / np.maximum(np.abs(a), 1e-30)))
        print(f"  max relative score difference loop vs {name}: {differences[name]:.2e}")
    if args.json:
        figures = {m: {k: v for k, v in r.items() if k != "scores"} for m, r in results.items()}
        with open(args.json, "w") as f:
            json.dump({"benchmark": "grand_throughput", "model": args.model, "latent": [args.channels, args.size, args.size],
                       "load_average": os.getloadavg()[0], "methods": figures,
                       "speedup_vmap_over_loop1": vmap["samples_per_s"] / loop1["samples_per_s"],
                       "speedup_vmap_over_loop": vmap["samples_per_s"] / loop["samples_per_s"],
                       "max_relative_score_difference": differences}, f, indent=1)  # fmt: skip


if __name__ == "__main__":
    main()
