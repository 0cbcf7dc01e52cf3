#!/usr/bin/env python3
"""PyTorch eager router baseline (the anchor every moerouter figure is compared with).

The DSV4-style router written the way a careful PyTorch user would: FP32 F.linear (TF32 off),
softplus, sqrt (or sigmoid for dsv3), + bias, topk, gather of the unbiased scores, renormalize,
scale. Timed with CUDA events (median of many launches, inputs rotated over buffers larger than
L2; the stream held by a spinning kernel while the host enqueues each call, so the events time the
GPU and not the host's launches), eagerly and replayed from a CUDA graph; on CPU with a wall
clock. One JSON object per line:
  {"impl": "torch-eager"|"torch-graph"|"torch-cpu", "device", "preset", "n", "us_median"}

usage: torch_baseline.py [--device cuda|cpu] [--presets dsv4-flash,dsv4-pro,dsv3]
                         [--n 1,4,16,64,256,1024,4096,16384] [--threads T]
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

PRESETS = {  # hidden, experts, top_k, score, scale (DESIGN.md §1)
    "dsv4-flash": (4096, 256, 6, "sqrtsoftplus", 1.5),
    "dsv4-pro": (7168, 384, 6, "sqrtsoftplus", 2.5),
    "dsv4.1-flash": (5120, 384, 6, "sqrtsoftplus", 1.5),
    "dsv3": (7168, 256, 8, "sigmoid", 2.5),
}


def router(x, w, b, k, score, scale):
    logits = F.linear(x, w)
    act = torch.sqrt(F.softplus(logits)) if score == "sqrtsoftplus" else torch.sigmoid(logits)
    ids = torch.topk(act + b, k, dim=-1).indices
    weights = torch.gather(act, 1, ids)
    weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20) * scale
    return weights, ids


# torch.cuda._sleep's argument in GPU clock cycles: ~0.5 ms at 1.5-2 GHz, longer than the host
# takes to enqueue one eager router call (about ten launches).
HOLD_CYCLES = 1_000_000


def time_cuda(fn, inputs, reps):
    """GPU time of fn per call: the stream is held by a spinning kernel while the host enqueues the
    start event, the call and the end event, so the host's launch latency stays outside the
    measurement (moerouter's benchmark, timing_util.hpp, does the same)."""
    for i in range(3):
        fn(inputs[i % len(inputs)])
    torch.cuda.synchronize()
    times = []
    for r in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda._sleep(HOLD_CYCLES)
        start.record()
        fn(inputs[r % len(inputs)])
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e3)
    return statistics.median(times)


def time_graph(w, b, k, score, scale, inputs, reps):
    static_x = inputs[0].clone()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            router(static_x, w, b, k, score, scale)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        router(static_x, w, b, k, score, scale)
    # The copy into the static input is part of what a graph user pays; it is timed too.
    return time_cuda(lambda x: (static_x.copy_(x), graph.replay()), inputs, reps)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--presets", default="dsv4-flash,dsv4-pro,dsv3")
    ap.add_argument("--n", default="1,4,16,64,256,1024,4096,16384")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if a.threads:
        torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(7)
    for name in a.presets.split(","):
        h, e, k, score, scale = PRESETS[name]
        w = (torch.randn(e, h, generator=gen) / h ** 0.5).to(torch.bfloat16).float().to(a.device)
        b = (torch.randn(e, generator=gen) * 0.1).to(a.device)
        for n in [int(v) for v in a.n.split(",")]:
            per = n * h * 4
            count = max(2, min(16, (128 << 20) // max(per, 1)))  # > L2, bounded memory
            inputs = [torch.randn(n, h, generator=gen).to(torch.bfloat16).float().to(a.device)
                      for _ in range(count)]
            row = {"device": a.device, "preset": name, "n": n}
            if a.device == "cuda":
                reps = 200 if n <= 1024 else 50
                with torch.no_grad():
                    eager = time_cuda(lambda x: router(x, w, b, k, score, scale), inputs, reps)
                    graph = time_graph(w, b, k, score, scale, inputs, reps)
                print(json.dumps({**row, "impl": "torch-eager", "us_median": round(eager, 2)}), flush=True)
                print(json.dumps({**row, "impl": "torch-graph", "us_median": round(graph, 2)}), flush=True)
            else:
                times = []
                with torch.no_grad():
                    router(inputs[0], w, b, k, score, scale)
                    deadline = time.perf_counter() + 0.5
                    i = 0
                    while time.perf_counter() < deadline or len(times) < 3:
                        t0 = time.perf_counter()
                        router(inputs[i % len(inputs)], w, b, k, score, scale)
                        times.append((time.perf_counter() - t0) * 1e6)
                        i += 1
                print(json.dumps({**row, "impl": "torch-cpu", "threads": torch.get_num_threads(),
                                  "us_median": round(statistics.median(times), 1)}), flush=True)


if __name__ == "__main__":
    main()
