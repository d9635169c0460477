"""ONNX Runtime, the CPU inference anchor of the BERT benchmarks (issue 15): the three graphs made from the bench's
weights, cached under ~/.cache/bertkit/bench/onnx/ (each rebuilt when missing, with the graphs made from it), and the
job scripts that time them. A graph set `NAME` is:

  NAME-fp32.onnx   torch.onnx.export of the transformers model, inputs input_ids / attention_mask / token_type_ids
                   (int64, dynamic batch and sequence axes), opset 17. The TorchScript exporter (dynamo=False) with
                   eager attention: it is the graph ONNX Runtime's BERT fusions are written for. torch 2.15's default
                   exporter (dynamo=True, which needs onnxscript) with either attention, and this exporter with sdpa
                   attention, give graphs in which optimize_model fuses no Attention node (measured: 0 of 12, only
                   BiasGelu and SkipLayerNormalization). Same weights and arithmetic as the PyTorch job's sdpa model:
                   PARITY below compares the two.
  NAME-fused.onnx  onnxruntime.transformers.optimizer.optimize_model(fp32, model_type="bert", num_heads=12,
                   hidden_size=768): EmbedLayerNormalization 1, Attention 12, BiasGelu 12, SkipLayerNormalization 24.
  NAME-int8.onnx   onnxruntime.quantization.quantize_dynamic(fused, weight_type=QInt8, per_channel=False): s8 weights,
                   symmetric, one scale per tensor; u8 activations quantised per tensor at run time (QAttention, and
                   MatMulInteger, which the session fuses into its int8 GEMM). Chosen by measurement on this CPU
                   (Xeon with AVX512-VNNI, 2 threads; a busy machine, so figures within a few per cent are noise):
                   QUInt8 weights (u8 × u8, no VNNI path) ran 1.7–2.2× slower than QInt8 (u8 × s8, VNNI) at 8 × 128
                   and 1 × 128; per_channel=True was no faster (0.5 % slower in a paired run of alternating passes,
                   up to 14 % slower in unpaired ones) and is a little more accurate (max |difference| from fp32 on
                   last_hidden_state 0.13 against 0.17). QUANTIZATION below holds the choice.
                   DefaultTensorType=FLOAT because ONNX shape inference cannot type the com.microsoft nodes of the
                   fused graph (quantize_dynamic stops with "Unable to find data type for weight_name" without it).
  NAME.json        how the set was made: versions, opset, fused-operator counts, quantisation settings.

Every session: intra_op_num_threads = BENCH_THREADS, inter_op_num_threads = 1, sequential execution, all graph
optimisations, CPUExecutionProvider. The graphs are built in a child process so that this process stays small (a
child inherits its parent's peak RSS at fork)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import CACHE, ENV  # noqa: E402

ONNX_DIR = os.path.join(CACHE, "bench", "onnx")
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
KINDS = ("fp32", "fused", "int8")
QUANTIZATION = {"weight_type": "QInt8", "per_channel": False}


def onnx_models(model_dir, name, head):
    """The fp32, fused and int8 graphs of the model in `model_dir` (head "base": BertModel, outputs last_hidden_state
    and pooler_output; "classifier": BertForSequenceClassification, output logits): {kind: path}, plus "manifest"."""
    paths = {kind: os.path.join(ONNX_DIR, f"{name}-{kind}.onnx") for kind in KINDS}
    paths["manifest"] = os.path.join(ONNX_DIR, f"{name}.json")
    if not all(os.path.exists(path) for path in paths.values()):
        subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); "
                        f"import ortlib; ortlib._build({model_dir!r}, {name!r}, {head!r})"], check=True, env=ENV)
    return paths


def manifest(paths):
    with open(paths["manifest"]) as f:
        return json.load(f)


def torch_ids(batch, sequence, vocab_size=30522):
    """The random ids the PyTorch forward job makes (torch.Generator seeded 1, randint over the vocabulary), saved
    once as .npy so that the ONNX Runtime jobs run the same ids without importing torch (which would add its
    libraries to their peak RSS)."""
    path = os.path.join(ONNX_DIR, f"ids-{batch}x{sequence}-v{vocab_size}.npy")
    if not os.path.exists(path):
        os.makedirs(ONNX_DIR, exist_ok=True)
        code = ("import sys, numpy, torch; g = torch.Generator().manual_seed(1); "
                f"ids = torch.randint(0, {vocab_size}, ({batch}, {sequence}), generator=g).numpy(); "
                f"numpy.save({path + '.tmp.npy'!r}, ids)")
        subprocess.run([sys.executable, "-c", code], check=True, env=ENV)
        os.replace(path + ".tmp.npy", path)
    return path


def _build(model_dir, name, head):
    import warnings
    import onnx
    import onnxruntime
    import torch
    import transformers
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    os.makedirs(ONNX_DIR, exist_ok=True)
    paths = {kind: os.path.join(ONNX_DIR, f"{name}-{kind}.onnx") for kind in KINDS}
    record = os.path.join(ONNX_DIR, f"{name}.json")
    if not os.path.exists(paths["fp32"]):
        for path in (paths["fused"], paths["int8"], record):   # made from the graph about to change
            if os.path.exists(path):
                os.remove(path)
        print(f"ortlib: exporting {model_dir} to {paths['fp32']}", file=sys.stderr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # the TorchScript exporter's deprecation and tracer warnings
            _export(model_dir, head, paths["fp32"])
    fusions = None
    if not os.path.exists(paths["fused"]):
        print(f"ortlib: optimize_model → {paths['fused']}", file=sys.stderr)
        optimized = optimize_model(paths["fp32"], model_type="bert", num_heads=12, hidden_size=768)
        fusions = {op: n for op, n in optimized.get_fused_operator_statistics().items() if n}
        tmp = paths["fused"] + ".tmp.onnx"
        optimized.save_model_to_file(tmp)
        os.replace(tmp, paths["fused"])
    if not os.path.exists(paths["int8"]):
        print(f"ortlib: quantize_dynamic → {paths['int8']}", file=sys.stderr)
        tmp = paths["int8"] + ".tmp.onnx"
        quantize_dynamic(paths["fused"], tmp, weight_type=getattr(QuantType, QUANTIZATION["weight_type"]),
                         per_channel=QUANTIZATION["per_channel"],
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        os.replace(tmp, paths["int8"])
    if fusions is not None or not os.path.exists(record):
        if fusions is None:
            fused = onnx.load(paths["fused"], load_external_data=False)
            fusions = {}
            for node in fused.graph.node:
                if node.domain == "com.microsoft":
                    fusions[node.op_type] = fusions.get(node.op_type, 0) + 1
        with open(record, "w") as f:
            json.dump({"model": model_dir, "head": head, "exporter": "torch.onnx.export(dynamo=False), eager attention",
                       "opset": OPSET, "fusions": fusions, "quantization": QUANTIZATION,
                       "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                                    "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}}, f, indent=1)


def _export(model_dir, head, path):
    import torch
    from transformers import BertForSequenceClassification, BertModel

    cls = BertForSequenceClassification if head == "classifier" else BertModel
    model = cls.from_pretrained(model_dir, attn_implementation="eager").eval()
    names = ["logits"] if head == "classifier" else ["last_hidden_state", "pooler_output"]

    class Positional(torch.nn.Module):
        """The tracer passes inputs by position; transformers 5's forward takes these three by keyword."""
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return tuple(out[n] for n in names)

    # Example inputs with padding and distinct batch and sequence sizes, so that the tracer keeps the mask path
    # (an all-ones mask can take a no-mask branch) and no axis is folded into a constant.
    ids = torch.randint(1000, 2000, (2, 16), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[1, 11:] = 0
    types = torch.zeros_like(ids)
    axes = {n: {0: "batch", 1: "sequence"} for n in INPUTS}
    axes.update({n: ({0: "batch", 1: "sequence"} if n == "last_hidden_state" else {0: "batch"}) for n in names})
    tmp = path + ".tmp.onnx"
    with torch.no_grad():
        torch.onnx.export(Positional(model), (ids, mask, types), tmp, dynamo=False, input_names=list(INPUTS),
                          output_names=names, dynamic_axes=axes, opset_version=OPSET)
    os.replace(tmp, path)


# Prefixed to every ONNX Runtime job: the session every benchmark uses.
SESSION = """
import json, sys, time
import numpy as np
import onnxruntime as ort

def session(path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
"""

# argv: threads, graph, ids .npy, iterations. The PyTorch job's input (its ids, mask all ones, token types 0), one
# warm-up pass, then `iterations` timed passes computing every output.
ORT_FORWARD = SESSION + """
threads, path, ids_path, iterations = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
start = time.perf_counter()
model = session(path, threads)
load = time.perf_counter() - start
ids = np.load(ids_path).astype(np.int64)
feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
model.run(None, feed)
times = []
for _ in range(iterations):
    start = time.perf_counter()
    model.run(None, feed)
    times.append(time.perf_counter() - start)
print(json.dumps({"load_seconds": load, "seconds": sorted(times)[len(times) // 2], "times": times,
                  "onnxruntime": ort.__version__}))
"""

# argv: threads, graph, model directory (tokenizer.json), text file, batch size, max length. Batches of `batch`
# texts in file order, each padded to its longest text (truncation at max length), through tokenizers' fast
# tokenizer and the session; one warm-up batch (the first), then the whole file timed, tokenization included.
ORT_TEXT = SESSION + """
from tokenizers import Tokenizer
threads, path, directory, text_path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
batch_size, max_length = int(sys.argv[5]), int(sys.argv[6])
start = time.perf_counter()
model = session(path, threads)
tokenizer = Tokenizer.from_file(directory + "/tokenizer.json")
tokenizer.no_padding()   # tokenizer.json pads to 128: pad each batch to its longest text instead
tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
tokenizer.enable_truncation(max_length)
load = time.perf_counter() - start
with open(text_path, encoding="utf-8") as f:
    texts = f.read().split("\\n")[:-1]

def classify(batch):
    encodings = tokenizer.encode_batch(batch)
    feed = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
    model.run(["logits"], feed)
    return int(feed["attention_mask"].sum()), feed["input_ids"].size

classify(texts[:batch_size])
tokens = padded = 0
start = time.perf_counter()
for i in range(0, len(texts), batch_size):
    real, total = classify(texts[i:i + batch_size])
    tokens += real
    padded += total
seconds = time.perf_counter() - start
print(json.dumps({"load_seconds": load, "seconds": seconds, "texts": len(texts), "tokens": tokens,
                  "padded_tokens": padded, "onnxruntime": ort.__version__}))
"""

# argv: model directory, head, fp32 / fused / int8 graphs, [text file]. PyTorch (the model as the PyTorch jobs load
# it: default attention, eval, no_grad) against each graph on one padded batch: for the base model 2 × 128 random
# ids, the second row 77 real tokens; for the classifier the first 32 texts of the file, padded to the longest.
# Max |difference| over real-token positions (all of the classifier's logits).
PARITY = SESSION + """
import torch
directory, head, graphs = sys.argv[1], sys.argv[2], dict(zip(("fp32", "fused", "int8"), sys.argv[3:6]))
if head == "classifier":
    from tokenizers import Tokenizer
    from transformers import BertForSequenceClassification
    model = BertForSequenceClassification.from_pretrained(directory).eval()
    tokenizer = Tokenizer.from_file(directory + "/tokenizer.json")
    tokenizer.no_padding()
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
    tokenizer.enable_truncation(128)
    with open(sys.argv[6], encoding="utf-8") as f:
        encodings = tokenizer.encode_batch(f.read().split("\\n")[:32])
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    types = np.array([e.type_ids for e in encodings], dtype=np.int64)
    output, keep = "logits", None
else:
    from transformers import BertModel
    model = BertModel.from_pretrained(directory).eval()
    ids = np.random.default_rng(2).integers(0, model.config.vocab_size, (2, 128), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[1, 77:] = 0
    types = np.zeros_like(ids)
    output, keep = "last_hidden_state", mask.astype(bool)
with torch.no_grad():
    reference = getattr(model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                              token_type_ids=torch.from_numpy(types)), output).numpy()
feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
result = {"shape": list(ids.shape), "real_tokens": int(mask.sum()), "output": output,
          "attention": model.config._attn_implementation}
for kind, path in graphs.items():
    difference = np.abs(session(path, 1).run([output], feed)[0] - reference)
    result[kind] = float((difference[keep] if keep is not None else difference).max())
result["reference_max_abs"] = float(np.abs(reference).max())
print(json.dumps(result))
"""
