"""BERT inference on bert-base-uncased shapes (random weights, a model directory with config.json and
model.safetensors): batch 8 × 128 throughput and batch 1 × 128 latency, bertkit against PyTorch's
`BertModel` (eval, no_grad) in the same run with the same thread count, plus the sgemm peak both stacks
reach on this machine (bertkit's OpenBLAS through `bertkit benchmark sgemm`, torch.matmul) so that
GFLOP/s can be read as a fraction of it. Each process loads the model once (load time reported apart),
runs one warm-up pass and then BENCH_ITERATIONS timed passes; each side runs BENCH_REPEATS processes,
interleaved, and the process with the median compute time is reported. The same bertkit forward is also
run with BERTKIT_PORTABLE_KERNELS=1 (the baseline x86-64 builds of the C kernels) to show what the
multi-versioned AVX2/FMA builds gain (with the portable kernels fp32 multiplies through OpenBLAS, as on a CPU without
AVX-512), and with BERTKIT_F32_OPENBLAS=1 (fp32 products through OpenBLAS sgemm instead of the packed-weight kernel of
CKernels/f32_gemm.c) to show what that kernel gains. GFLOP/s counts the encoder's matrix products only, the same
formula for both sides.

ONNX Runtime is the CPU anchor (issue 15), in the same interleaved run on the same weights and the PyTorch job's ids:
the graph exported from these weights (fp32), with ONNX Runtime's BERT fusions (fused) and dynamically quantised
(int8); Tools/bench/ortlib.py says how each graph is made. Before the timings, each graph's output is compared with
PyTorch's on one padded batch (max |difference|), which shows the anchor runs the same weights. The rows
"bertkit bf16" and "bertkit int8" run `bertkit benchmark forward --precision bf16|int8`; BENCH_SKIP_PRECISIONS=1
leaves them out. Every row shows its speed against PyTorch, ONNX Runtime fused fp32 and ONNX Runtime int8
(reference time / row time: > 1 means the row is faster)."""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import CACHE, THREADS, bert_base_state, bertkit_json_job, python_job
from ortlib import ORT_FORWARD, PARITY, manifest, onnx_models, torch_ids

REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
ITERATIONS = int(os.environ.get("BENCH_ITERATIONS", "10"))
SKIP_PRECISIONS = os.environ.get("BENCH_SKIP_PRECISIONS", "") not in ("", "0")
SEQUENCE = 128
H, I, LAYERS = 768, 3072, 12


def model_dir():
    """~/.cache/bertkit/bench/bert-base-model: config.json (bert-base defaults) + the cached weights."""
    directory = os.path.join(CACHE, "bench", "bert-base-model")
    weights = bert_base_state(os.path.join(CACHE, "bench", "bert-base.safetensors"))
    os.makedirs(directory, exist_ok=True)
    target = os.path.join(directory, "model.safetensors")
    if not os.path.exists(target):
        try:
            os.link(weights, target)
        except OSError:
            shutil.copyfile(weights, target)
    config = os.path.join(directory, "config.json")
    if not os.path.exists(config):
        with open(config, "w") as f:
            json.dump({"architectures": ["BertModel"], "model_type": "bert"}, f)
    return directory


def encoder_flops(batch, sequence):
    """2 per multiply-add: Q/K/V/output projections, the feed-forward pair and the two attention products."""
    rows = batch * sequence
    return LAYERS * (2 * rows * (4 * H * H + 2 * H * I) + 4 * batch * sequence * sequence * H)


TORCH_SGEMM = """
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
n, iterations = int(sys.argv[2]), int(sys.argv[3])
a, b = torch.rand(n, n), torch.rand(n, n)
torch.matmul(a, b.t())
times = []
for _ in range(iterations):
    start = time.perf_counter(); torch.matmul(a, b.t()); times.append(time.perf_counter() - start)
median = sorted(times)[len(times) // 2]
print(json.dumps({"seconds": median, "gflops_per_second": 2 * n ** 3 / median / 1e9}))
"""

TORCH_FORWARD = """
import json, sys, time
import torch
from transformers import BertModel
torch.set_num_threads(int(sys.argv[1]))
path, batch, sequence, iterations = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
start = time.perf_counter()
model = BertModel.from_pretrained(path).eval()
load = time.perf_counter() - start
generator = torch.Generator().manual_seed(1)
ids = torch.randint(0, model.config.vocab_size, (batch, sequence), generator=generator)
mask = torch.ones_like(ids)
times = []
with torch.no_grad():
    model(input_ids=ids, attention_mask=mask)
    for _ in range(iterations):
        start = time.perf_counter()
        model(input_ids=ids, attention_mask=mask)
        times.append(time.perf_counter() - start)
print(json.dumps({"load_seconds": load, "seconds": sorted(times)[len(times) // 2], "times": times,
                  "attention": model.config._attn_implementation}))
"""


def median_run(runs):
    runs = sorted(runs, key=lambda r: r["seconds"])
    return runs[len(runs) // 2]


def interleaved(jobs, repeats=REPEATS):
    """jobs: name → callable. Runs each once per round, `repeats` rounds; the median run of each."""
    results = {name: [] for name in jobs}
    for _ in range(repeats):
        for name, job in jobs.items():
            results[name].append(job())
    return {name: median_run(runs) for name, runs in results.items()}


# Rows of the inference table: job name → label, in print order.
ROWS = (("bertkit", "bertkit fp32"), ("openblas", "bertkit fp32 OpenBLAS"), ("bertkit_bf16", "bertkit bf16"),
        ("bertkit_int8", "bertkit int8"), ("portable", "bertkit portable kernels"), ("torch", "PyTorch BertModel"), ("ort_fp32", "ONNX Runtime fp32"),
        ("ort_fused", "ONNX Runtime fused fp32"), ("ort_int8", "ONNX Runtime int8"))


def main():
    directory = model_dir()
    graphs = onnx_models(directory, "bert-base", "base")
    made = manifest(graphs)
    parity = python_job(PARITY, directory, "base", graphs["fp32"], graphs["fused"], graphs["int8"])

    def by_rate(run):   # median_run orders by "seconds": order the sgemm runs by rate instead
        return run | {"seconds": 1 / run["gflops_per_second"]}
    peak = interleaved({
        "bertkit": lambda: by_rate(bertkit_json_job("benchmark", "sgemm", "--size", 2048, "--iterations", 10,
                                                    "--threads", THREADS)),
        "torch": lambda: by_rate(python_job(TORCH_SGEMM, THREADS, 2048, 10)),
    })
    sgemm_peak = peak["bertkit"]["gflops_per_second"]
    torch_peak = peak["torch"]["gflops_per_second"]

    rows = []
    for batch in (8, 1):
        iterations = ITERATIONS if batch > 1 else 3 * ITERATIONS
        args = ("benchmark", "forward", "--model", directory, "--batch", batch, "--sequence", SEQUENCE,
                "--iterations", iterations, "--threads", THREADS)
        ids = torch_ids(batch, SEQUENCE)
        jobs = {
            "bertkit": lambda: bertkit_json_job(*args),
            "openblas": lambda: bertkit_json_job(*args, env={"BERTKIT_F32_OPENBLAS": "1"}),
            "portable": lambda: bertkit_json_job(*args, env={"BERTKIT_PORTABLE_KERNELS": "1"}),
            "torch": lambda: python_job(TORCH_FORWARD, THREADS, directory, batch, SEQUENCE, iterations),
            "ort_fp32": lambda: python_job(ORT_FORWARD, THREADS, graphs["fp32"], ids, iterations),
            "ort_fused": lambda: python_job(ORT_FORWARD, THREADS, graphs["fused"], ids, iterations),
            "ort_int8": lambda: python_job(ORT_FORWARD, THREADS, graphs["int8"], ids, iterations),
        }
        if not SKIP_PRECISIONS:
            jobs["bertkit_bf16"] = lambda: bertkit_json_job(*args, "--precision", "bf16")
            jobs["bertkit_int8"] = lambda: bertkit_json_job(*args, "--precision", "int8")
        rows.append((batch, interleaved(jobs)))

    ort_version = rows[0][1]["ort_int8"]["onnxruntime"]
    print(f"\n## BERT inference, bert-base-uncased shapes, sequence {SEQUENCE}  "
          f"(threads {THREADS}, median process of {REPEATS}, median of {ITERATIONS} passes per process at batch 8, "
          f"{3 * ITERATIONS} at batch 1)")
    print(f"sgemm 2048³ peak: OpenBLAS (bertkit benchmark sgemm, {peak['bertkit'].get('openblas_core', '?')} kernels) "
          f"{sgemm_peak:.1f} GFLOP/s, torch.matmul {torch_peak:.1f} GFLOP/s")
    quantization = made["quantization"]
    print(f"ONNX Runtime {ort_version}: graphs of these weights (torch.onnx.export, opset {made['opset']}; fused: "
          + ", ".join(f"{op} {n}" for op, n in made["fusions"].items())
          + f"; int8: quantize_dynamic of the fused graph, {quantization['weight_type']} weights, "
          f"per_channel={quantization['per_channel']})")
    print(f"ONNX graphs against PyTorch ({parity['attention']} attention) on {parity['shape'][0]} × {parity['shape'][1]} "
          f"ids with padding, {parity['output']} over real tokens, max |difference|: fp32 {parity['fp32']:.2e}, "
          f"fused {parity['fused']:.2e}, int8 {parity['int8']:.2e} (largest |value| {parity['reference_max_abs']:.2f})")
    if SKIP_PRECISIONS:
        print("bertkit bf16 and int8 rows skipped (BENCH_SKIP_PRECISIONS=1)")
    print(f"{'task':<30} {'compute s':>10} {'GFLOP/s':>8} {'% peak':>7} {'load s':>7} {'peak MB':>8} {'vs torch':>9} "
          f"{'vs ORT fused':>13} {'vs ORT int8':>12}")
    summary = {"sgemm_peak_gflops": sgemm_peak, "torch_matmul_gflops": torch_peak, "onnxruntime": ort_version,
               "onnx_graphs": made, "onnx_parity_max_abs": {k: parity[k] for k in ("fp32", "fused", "int8")},
               "skipped_precisions": SKIP_PRECISIONS}
    for batch, result in rows:
        flops = encoder_flops(batch, SEQUENCE)
        references = [result[name]["seconds"] for name in ("torch", "ort_fused", "ort_int8")]
        for name, label in ROWS:
            if name not in result:
                continue
            run = result[name]
            rate = flops / run["seconds"] / 1e9
            ratios = " ".join(f"{reference / run['seconds']:>{width}.2f}x"
                              for reference, width in zip(references, (8, 12, 11)))
            print(f"{label + f' b{batch}':<30} {run['seconds']:>10.4f} {rate:>8.1f} {100 * rate / sgemm_peak:>6.1f}% "
                  f"{run['load_seconds']:>7.2f} {run['rss_mb']:>8.0f} {ratios}")
            summary[f"{name}_b{batch}"] = {"seconds": run["seconds"], "gflops": rate, "load_seconds": run["load_seconds"],
                                           "rss_mb": run["rss_mb"], "vs_torch": references[0] / run["seconds"],
                                           "vs_ort_fused": references[1] / run["seconds"],
                                           "vs_ort_int8": references[2] / run["seconds"]}
        gain = result["portable"]["seconds"] / result["bertkit"]["seconds"]
        packed = result["openblas"]["seconds"] / result["bertkit"]["seconds"]
        print(f"  batch {batch}: multi-versioned C kernels vs portable builds: {gain:.3f}x; "
              f"fp32 packed weights vs OpenBLAS sgemm: {packed:.3f}x")
    print("GFLOP/s: the encoder's fp32 matrix-product count over the time, for every row (int8 and bf16 rows included).")
    print(json.dumps(summary))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
