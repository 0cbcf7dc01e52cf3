#!/usr/bin/env python3
"""Small router checkpoints for the CLI tests (tests/cli_checkpoint.cmake), written by hand in
the safetensors format (8-byte little-endian header length, JSON header, raw bytes), plus the same
tensors as .npy files so `route --checkpoint` can be compared byte for byte with `route --weight`.

  OUT/hf/    Hugging Face DeepSeek naming, two shards + model.safetensors.index.json + config.json:
             layer 1 (bf16 weight, f32 bias stored at an odd offset), layer 2 (f32 weight, bias),
             and non-router tensors around them.
  OUT/ds/    DeepSeek's own naming, one unindexed file, no config.json: layer 0 hash-routed
             (bf16 weight, int32 tid2eid), layer 1 scored (f32 weight, bias).
  OUT/bad/   overlap.safetensors (overlapping ranges), trunc.safetensors (cut short).
  OUT/*.npy  x (f32, bf16 bits), token ids (int64), and each router tensor.
  OUT/tie_*  a near-tie problem: experts 0/1 and 2/3 have mirrored weights and x rows are
             palindromes, so their exact logits tie and FP32 summation orders split the ties.
"""
import json
import os
import struct
import sys

import numpy as np

H, E, K, VOCAB, N = 64, 16, 4, 100, 50


def bf16_bits(a):
    """Round float32 to bfloat16 (nearest even), as uint16 bit patterns."""
    u = np.asarray(a, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def write_safetensors(path, tensors, pad_to=8):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, array, dtype in tensors:
        raw = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % pad_to)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main(out):
    rng = np.random.default_rng(7)
    for d in ("hf", "ds", "bad"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    w = [(rng.standard_normal((E, H)) / 8).astype(np.float32) for _ in range(3)]
    b = [(0.1 * rng.standard_normal(E)).astype(np.float32) for _ in range(3)]
    w_bf16 = [bf16_bits(m) for m in w]
    tid2eid = np.array([rng.permutation(E)[:K] for _ in range(VOCAB)], np.int32)
    x = rng.standard_normal((N, H)).astype(np.float32)

    shard1 = [("model.embed_tokens.weight", np.zeros((4, H), np.float32), "F32"),
              ("model.layers.1.mlp.experts.0.down_proj.weight_scale_inv", np.ones(3, np.int8), "I8"),
              ("model.layers.1.mlp.gate.e_score_correction_bias", b[1], "F32"),  # at offset 3 + 4*4*64
              ("model.layers.1.mlp.gate.weight", w_bf16[1], "BF16")]
    shard2 = [("model.layers.2.mlp.gate.weight", w[2], "F32"),
              ("model.layers.2.mlp.gate.e_score_correction_bias", b[2], "F32"),
              ("model.layers.2.mlp.gate_proj.weight", np.zeros((2, H), np.float32), "F32"),
              ("model.norm.weight", np.ones(H, np.float32), "F32")]
    names = {"model-00001-of-00002.safetensors": shard1, "model-00002-of-00002.safetensors": shard2}
    weight_map = {}
    for file, tensors in names.items():
        write_safetensors(os.path.join(out, "hf", file), tensors)
        weight_map.update({name: file for name, _, _ in tensors})
    with open(os.path.join(out, "hf", "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=1)
    with open(os.path.join(out, "hf", "config.json"), "w") as f:
        json.dump({"architectures": ["DeepseekV3ForCausalLM"], "hidden_size": H, "n_routed_experts": E,
                   "num_experts_per_tok": K, "scoring_func": "sigmoid", "routed_scaling_factor": 2.5,
                   "n_group": 4, "topk_group": 2, "norm_topk_prob": True, "topk_method": "noaux_tc"}, f)

    write_safetensors(os.path.join(out, "ds", "model0-mp1.safetensors"),
                      [("embed.weight", np.zeros((4, H), np.float32), "F32"),
                       ("layers.0.ffn.gate.weight", w_bf16[0], "BF16"),
                       ("layers.0.ffn.gate.tid2eid", tid2eid, "I32"),
                       ("layers.1.ffn.gate.weight", w[1], "F32"),
                       ("layers.1.ffn.gate.bias", b[1], "F32")])

    # Malformed files: ranges overlapping, and a file cut in the middle of its data.
    a = np.arange(4, dtype=np.float32)
    hdr = json.dumps({"layers.0.ffn.gate.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                      "layers.0.ffn.gate.bias": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}).encode()
    with open(os.path.join(out, "bad", "overlap.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hdr)) + hdr + a.tobytes())
    write_safetensors(os.path.join(out, "bad", "trunc.safetensors"), [("layers.0.ffn.gate.weight", w[0], "F32")])
    with open(os.path.join(out, "bad", "trunc.safetensors"), "r+b") as f:
        f.truncate(os.path.getsize(f.name) - 100)

    np.save(os.path.join(out, "x.npy"), x)
    np.save(os.path.join(out, "x_bf16.npy"), bf16_bits(x))
    np.save(os.path.join(out, "token_ids.npy"), rng.integers(0, VOCAB, N).astype(np.int64))
    np.save(os.path.join(out, "hf_w1.npy"), w_bf16[1])
    np.save(os.path.join(out, "hf_b1.npy"), b[1])
    np.save(os.path.join(out, "hf_w2.npy"), w[2])
    np.save(os.path.join(out, "hf_b2.npy"), b[2])
    np.save(os.path.join(out, "ds_w0.npy"), w_bf16[0])
    np.save(os.path.join(out, "ds_tid2eid0.npy"), tid2eid)
    np.save(os.path.join(out, "ds_w1.npy"), w[1])
    np.save(os.path.join(out, "ds_b1.npy"), b[1])

    # Near ties: mirrored expert rows and palindromic x rows have equal exact logits.
    w0 = (rng.standard_normal(H) * np.exp2(rng.integers(-8, 0, H))).astype(np.float32)
    half = (rng.standard_normal((400, H // 2)) * np.exp2(rng.integers(-3, 3, (400, H // 2)))).astype(np.float32)
    np.save(os.path.join(out, "tie_w.npy"), np.stack([w0, w0[::-1], -w0, -w0[::-1]]).astype(np.float32))
    np.save(os.path.join(out, "tie_x.npy"), np.concatenate([half, half[:, ::-1]], 1).astype(np.float32))


if __name__ == "__main__":
    main(sys.argv[1])
