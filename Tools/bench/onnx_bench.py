"""ONNX Runtime on bertkit's ONNX export against ONNX Runtime on torch.onnx.export's graph of the same weights
(issue 19: the export must not be slower), bert-base-uncased shapes, sequence 128, batch 8 and 1, the same session
options and ids for both (ortlib.ORT_FORWARD), interleaved, median process of BENCH_REPEATS (3). Also each graph
after ONNX Runtime's BERT optimizer (fusions counted), and both graphs' outputs against each other."""
import os
import subprocess
import sys

from benchlib import BERTKIT, CACHE, ENV, THREADS, python_job
from bert_bench import SEQUENCE, interleaved, model_dir
from ortlib import ONNX_DIR, ORT_FORWARD, manifest, onnx_models, torch_ids

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


def main():
    directory = model_dir()
    graphs = onnx_models(directory, "bert-base", "base")
    ours = os.path.join(ONNX_DIR, "bert-base-bertkit.onnx")
    subprocess.run([BERTKIT, "convert", directory, ours], check=True, capture_output=True, env=ENV)
    ours_fused = os.path.join(ONNX_DIR, "bert-base-bertkit-fused.onnx")
    fused_report = python_job(OPTIMIZE, ours, ours_fused)
    parity = python_job(COMPARE, ours, graphs["fp32"], torch_ids(2, SEQUENCE))
    print(f"\n## ONNX Runtime on bertkit's export vs torch.onnx.export's graph (bert-base shapes, sequence {SEQUENCE}, "
          f"threads {THREADS}, median process of {REPEATS}, median of {ITERATIONS} passes)")
    print(f"torch graph: {manifest(graphs)['exporter']}; bertkit graph: bertkit convert (opset 17, Transpose-fed MatMuls)")
    print(f"last_hidden_state, bertkit's graph vs torch's, 2 × {SEQUENCE} ids with padding: max |difference| {parity['max_abs']:.2e}")
    print(f"ONNX Runtime's BERT optimizer on bertkit's graph: {fused_report['nodes']} nodes, "
          + ", ".join(f"{k} {v}" for k, v in fused_report["fusions"].items()))
    print(f"{'graph':<34} {'b8 s':>8} {'b1 s':>8} {'b8 ratio':>9} {'b1 ratio':>9}")
    results = {}
    for batch in (8, 1):
        ids = torch_ids(batch, SEQUENCE)
        iterations = ITERATIONS if batch > 1 else 3 * ITERATIONS
        jobs = {name: (lambda path=path: python_job(ORT_FORWARD, THREADS, path, ids, iterations))
                for name, path in (("torch", graphs["fp32"]), ("bertkit", ours), ("torch_fused", graphs["fused"]),
                                   ("bertkit_fused", ours_fused))}
        results[batch] = interleaved(jobs, REPEATS)
    for name, label, reference in (("torch", "torch.onnx.export graph", "torch"), ("bertkit", "bertkit graph", "torch"),
                                   ("torch_fused", "torch graph, ORT-optimized", "torch_fused"),
                                   ("bertkit_fused", "bertkit graph, ORT-optimized", "torch_fused")):
        cells = [results[b][name]["seconds"] for b in (8, 1)]
        ratios = [results[b][reference]["seconds"] / results[b][name]["seconds"] for b in (8, 1)]
        print(f"{label:<34} {cells[0]:>8.4f} {cells[1]:>8.4f} {ratios[0]:>8.3f}x {ratios[1]:>8.3f}x")
    print("ratio: the torch graph's time (fused: the fused torch graph's) over this row's; above 1 is faster than torch's.")


if __name__ == "__main__":
    main()
