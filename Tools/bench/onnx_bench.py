"""ONNX Runtime on bertkit's ONNX export against ONNX Runtime on torch.onnx.export's graph of the same weights
(issue 19: the export must not be slower), bert-base-uncased shapes, sequence 128, batch 8 and 1, the same session
options and ids for both (ortlib.SESSION), also each graph after ONNX Runtime's BERT optimizer (fusions counted), and
both graphs' outputs against each other.

The two graphs differ by a few percent at most, less than this machine's drift between processes (runs of the same
graph in separate processes have differed by 7 %), so they are timed as a pair: one process holds both sessions and
alternates them pass by pass (the order flipped every pass), BENCH_ITERATIONS (10; 30 at batch 1) pairs per process.
The session created first runs a little faster (the same graph loaded twice measured 0.975×), so every repeat is two
processes, one creating the torch graph's session first and one bertkit's: 2 × BENCH_REPEATS (3) processes. The ratio
reported is the median of the per-pass ratios, with their 10th and 90th percentiles beside it: "not slower" means a
median at or above 1, or an interval that holds 1. A control row times the torch graph against itself (two sessions of
one file): what a ratio looks like when the graphs are the same."""
import os
import subprocess
import sys

from benchlib import BERTKIT, CACHE, ENV, THREADS, python_job
from bert_bench import SEQUENCE, model_dir
from ortlib import ONNX_DIR, SESSION, manifest, onnx_models, torch_ids

REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
ITERATIONS = int(os.environ.get("BENCH_ITERATIONS", "10"))

OPTIMIZE = """
import json, sys, collections
from onnxruntime.transformers.optimizer import optimize_model
model = optimize_model(sys.argv[1], model_type="bert", num_heads=12, hidden_size=768)
model.save_model_to_file(sys.argv[2])
counts = collections.Counter(n.op_type for n in model.model.graph.node)
print(json.dumps({"seconds": 0, "fusions": {k: counts[k] for k in ("EmbedLayerNormalization", "Attention", "SkipLayerNormalization", "BiasGelu", "Gelu") if counts[k]}, "nodes": len(model.model.graph.node)}))
"""

COMPARE = """
import json, sys
import numpy as np, onnxruntime as ort
ids = np.load(sys.argv[3]).astype(np.int64)
mask = np.ones_like(ids); mask[1:, ids.shape[1] // 2:] = 0
feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
a, b = (ort.InferenceSession(p, providers=["CPUExecutionProvider"]).run(["last_hidden_state"], feed)[0] for p in sys.argv[1:3])
real = mask.astype(bool)
print(json.dumps({"seconds": 0, "max_abs": float(np.abs(a - b)[real].max())}))
"""


# argv: threads, first graph, second graph, ids .npy, passes. Sessions created in that order, one warm-up pass each,
# then `passes` pairs, the order flipped every pair; prints both graphs' pass times.
PAIRED = SESSION + """
threads, first_path, second_path, ids_path, passes = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
sessions = [session(first_path, threads), session(second_path, threads)]
ids = np.load(ids_path).astype(np.int64)
feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
for s in sessions:
    s.run(None, feed)
times = [[], []]
for i in range(passes):
    for which in ((0, 1) if i % 2 == 0 else (1, 0)):
        start = time.perf_counter()
        sessions[which].run(None, feed)
        times[which].append(time.perf_counter() - start)
print(json.dumps({"seconds": 0, "first": times[0], "second": times[1]}))
"""


def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def paired(reference, candidate, ids, passes):
    """Both graphs in one process, each repeat once with either session created first; all passes pooled: median
    times and per-pass ratios."""
    reference_times, candidate_times, ratios = [], [], []
    for _ in range(REPEATS):
        for first, second in ((reference, candidate), (candidate, reference)):
            run = python_job(PAIRED, THREADS, first, second, ids, passes)
            r, c = (run["first"], run["second"]) if first == reference else (run["second"], run["first"])
            reference_times += r
            candidate_times += c
            ratios += [a / b for a, b in zip(r, c)]
    return {"reference": quantile(reference_times, 0.5), "candidate": quantile(candidate_times, 0.5),
            "ratio": quantile(ratios, 0.5), "low": quantile(ratios, 0.1), "high": quantile(ratios, 0.9)}


def main():
    directory = model_dir()
    graphs = onnx_models(directory, "bert-base", "base")
    ours = os.path.join(ONNX_DIR, "bert-base-bertkit.onnx")
    subprocess.run([BERTKIT, "convert", directory, ours], check=True, capture_output=True, env=ENV)
    ours_fused = os.path.join(ONNX_DIR, "bert-base-bertkit-fused.onnx")
    fused_report = python_job(OPTIMIZE, ours, ours_fused)
    parity = python_job(COMPARE, ours, graphs["fp32"], torch_ids(2, SEQUENCE))
    print(f"\n## ONNX Runtime on bertkit's export vs torch.onnx.export's graph (bert-base shapes, sequence {SEQUENCE}, "
          f"threads {THREADS}, both graphs in one process alternating pass by pass, 2 × {REPEATS} processes of {ITERATIONS} "
          f"pairs at batch 8, {3 * ITERATIONS} at batch 1)")
    print(f"torch graph: {manifest(graphs)['exporter']}; bertkit graph: bertkit convert (opset 17, Transpose-fed MatMuls)")
    print(f"last_hidden_state, bertkit's graph vs torch's, 2 × {SEQUENCE} ids with padding: max |difference| {parity['max_abs']:.2e}")
    print(f"ONNX Runtime's BERT optimizer on bertkit's graph: {fused_report['nodes']} nodes, "
          + ", ".join(f"{k} {v}" for k, v in fused_report["fusions"].items()))
    print(f"{'pair (reference / bertkit)':<30} {'batch':>5} {'reference s':>12} {'bertkit s':>10} {'ratio':>7} {'p10–p90':>15}")
    # The first row is the control: the torch graph against itself, the noise floor the other rows are read against.
    for label, reference, candidate in (("control: torch / torch", graphs["fp32"], graphs["fp32"]),
                                        ("torch graph / bertkit graph", graphs["fp32"], ours),
                                        ("both after ORT's optimizer", graphs["fused"], ours_fused)):
        for batch in (8, 1):
            result = paired(reference, candidate, torch_ids(batch, SEQUENCE), ITERATIONS if batch > 1 else 3 * ITERATIONS)
            interval = f"{result['low']:.3f}–{result['high']:.3f}"
            print(f"{label:<30} {batch:>5} {result['reference']:>12.4f} {result['candidate']:>10.4f} "
                  f"{result['ratio']:>6.3f}x {interval:>15}")
    print("ratio: the reference graph's pass time over bertkit's in the same process, median of the per-pass ratios; "
          "above 1 is faster than torch's.")


if __name__ == "__main__":
    main()
