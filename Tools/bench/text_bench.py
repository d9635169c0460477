"""text: a file of real English sentences classified in batches of 32, as `predict --file` runs them — bertkit
(`bertkit benchmark text`, fp32, bf16 and int8) against ONNX Runtime (int8, and fused fp32) with dynamic padding
(each batch padded to its longest text), truncation at 128 tokens, tokenization included.

  - Sentences: ~/.cache/bertkit/bench/sentences.txt, the first 2,000 non-empty lines of the movie-review snippets
    and then the first 2,000 of the tweets of the vaderSentiment 3.3.2 corpus (Tools/fetch puts them in
    ~/.cache/bertkit/data/sentiment), stripped: 4,000 texts, about 27 and 23 tokens on average.
  - Model: bert-base shapes with a sequence-classification head (2 labels): the encoder is bert_bench's random
    bert-base weights, the classifier random (seed 0), saved with save_pretrained in
    ~/.cache/bertkit/bench/bert-base-classifier together with the bert-base-uncased vocabulary and tokenizer files
    of all-MiniLM-L6-v2 (Tools/fetch).
  - ONNX Runtime: the classifier's graphs (output `logits`) made as Tools/bench/ortlib.py says, the text tokenized by
    the `tokenizers` fast tokenizer (tokenizer.json, TOKENIZERS_PARALLELISM=false), int64 inputs; one warm-up batch,
    then the whole file timed.
  - bertkit: `bertkit benchmark text --model DIR --file sentences.txt --batch-size 32 --max-length 128 --precision P
    --threads N`, which prints {"load_seconds", "seconds", "texts", "tokens"} (the whole file after loading and a
    warm-up batch). BENCH_SKIP_PRECISIONS=1 leaves every bertkit row out.

Each job runs BENCH_REPEATS processes (3), interleaved; the process with the median time is reported, with its peak
RSS. Throughput counts texts and real (unpadded) tokens. Before timing, the classifier's logits from each graph are
compared with PyTorch's on the file's first batch."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import CACHE, ENV, THREADS, bertkit_json_job, python_job  # noqa: E402
from bert_bench import REPEATS, SKIP_PRECISIONS, interleaved, model_dir  # noqa: E402
from ortlib import ORT_TEXT, PARITY, manifest, onnx_models  # noqa: E402

SENTIMENT = os.path.join(CACHE, "data", "sentiment")
MINILM = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
SOURCES = (("movie_reviews.txt", 2000), ("tweets.txt", 2000))
BATCH, MAX_LENGTH = 32, 128


def sentences():
    path = os.path.join(CACHE, "bench", "sentences.txt")
    if os.path.exists(path):
        return path
    texts = []
    for name, count in SOURCES:
        source = os.path.join(SENTIMENT, name)
        if not os.path.exists(source):
            raise SystemExit(f"{source} is missing: run Tools/fetch")
        with open(source, encoding="utf-8") as f:
            texts += [line.strip() for line in f if line.strip()][:count]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
    os.replace(path + ".tmp", path)
    return path


def classifier_dir():
    """~/.cache/bertkit/bench/bert-base-classifier: BertForSequenceClassification (2 labels) from the bench's bert-base
    weights, classifier initialised with seed 0, plus the bert-base-uncased tokenizer files. Made in a child process."""
    directory = os.path.join(CACHE, "bench", "bert-base-classifier")
    if os.path.exists(os.path.join(directory, ".complete")):
        return directory
    for name in TOKENIZER_FILES:
        if not os.path.exists(os.path.join(MINILM, name)):
            raise SystemExit(f"{MINILM}/{name} is missing: run Tools/fetch")
    base = model_dir()
    shutil.rmtree(directory, ignore_errors=True)
    code = ("import torch; from transformers import BertForSequenceClassification; torch.manual_seed(0); "
            f"model = BertForSequenceClassification.from_pretrained({base!r}, num_labels=2); "
            f"model.save_pretrained({directory!r})")
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV, stderr=subprocess.DEVNULL)
    for name in TOKENIZER_FILES:
        shutil.copyfile(os.path.join(MINILM, name), os.path.join(directory, name))
    open(os.path.join(directory, ".complete"), "w").close()
    return directory


def main():
    text_path = sentences()
    directory = classifier_dir()
    graphs = onnx_models(directory, "bert-base-classifier", "classifier")
    made = manifest(graphs)
    parity = python_job(PARITY, directory, "classifier", graphs["fp32"], graphs["fused"], graphs["int8"], text_path)

    jobs = {
        "ort_int8": lambda: python_job(ORT_TEXT, THREADS, graphs["int8"], directory, text_path, BATCH, MAX_LENGTH),
        "ort_fused": lambda: python_job(ORT_TEXT, THREADS, graphs["fused"], directory, text_path, BATCH, MAX_LENGTH),
    }
    if not SKIP_PRECISIONS:
        for precision in ("fp32", "bf16", "int8"):
            jobs[f"bertkit_{precision}"] = (lambda p=precision: bertkit_json_job(
                "benchmark", "text", "--model", directory, "--file", text_path, "--batch-size", BATCH,
                "--max-length", MAX_LENGTH, "--precision", p, "--threads", THREADS))
    result = interleaved(jobs)

    ort_int8, ort_fused = result["ort_int8"], result["ort_fused"]
    texts, tokens = ort_int8["texts"], ort_int8["tokens"]
    print(f"\n## real text: {texts} sentences ({tokens} real tokens; {ort_int8['padded_tokens']} with each batch padded "
          f"to its longest), bert-base + 2-label classifier, batches of {BATCH}, truncation at {MAX_LENGTH}  "
          f"(threads {THREADS}, median process of {REPEATS})")
    print(f"ONNX Runtime {ort_int8['onnxruntime']}, graphs of these weights (fused: "
          + ", ".join(f"{op} {n}" for op, n in made["fusions"].items())
          + f"; int8: {made['quantization']['weight_type']}, per_channel={made['quantization']['per_channel']}); "
          f"logits against PyTorch on the first {parity['shape'][0]} texts (padded to {parity['shape'][1]}), "
          f"max |difference|: fp32 {parity['fp32']:.2e}, fused {parity['fused']:.2e}, int8 {parity['int8']:.2e}")
    if SKIP_PRECISIONS:
        print("bertkit rows skipped (BENCH_SKIP_PRECISIONS=1)")
    print(f"{'task':<26} {'seconds':>8} {'texts/s':>8} {'tokens/s':>9} {'load s':>7} {'peak MB':>8} "
          f"{'vs ORT int8':>12} {'vs ORT fused':>13}")
    summary = {"texts": texts, "tokens": tokens, "padded_tokens": ort_int8["padded_tokens"], "batch_size": BATCH,
               "max_length": MAX_LENGTH, "onnxruntime": ort_int8["onnxruntime"], "onnx_graphs": made,
               "onnx_parity_max_abs": {k: parity[k] for k in ("fp32", "fused", "int8")},
               "skipped_precisions": SKIP_PRECISIONS}
    for name, label in (("bertkit_fp32", "bertkit fp32"), ("bertkit_bf16", "bertkit bf16"),
                        ("bertkit_int8", "bertkit int8"), ("ort_fused", "ONNX Runtime fused fp32"),
                        ("ort_int8", "ONNX Runtime int8")):
        if name not in result:
            continue
        run = result[name]
        if run["texts"] != texts or run["tokens"] != tokens:
            print(f"warning: {label} counted {run['texts']} texts and {run['tokens']} tokens, ONNX Runtime "
                  f"{texts} and {tokens}")
        vs_int8, vs_fused = ort_int8["seconds"] / run["seconds"], ort_fused["seconds"] / run["seconds"]
        print(f"{label:<26} {run['seconds']:>8.2f} {run['texts'] / run['seconds']:>8.1f} "
              f"{run['tokens'] / run['seconds']:>9.0f} {run['load_seconds']:>7.2f} {run['rss_mb']:>8.0f} "
              f"{vs_int8:>11.2f}x {vs_fused:>12.2f}x")
        summary[name] = {"seconds": run["seconds"], "texts_per_second": run["texts"] / run["seconds"],
                         "tokens_per_second": run["tokens"] / run["seconds"], "load_seconds": run["load_seconds"],
                         "rss_mb": run["rss_mb"], "vs_ort_int8": vs_int8, "vs_ort_fused": vs_fused}
    if "bertkit_int8" in result:
        print(f"bertkit int8 throughput vs ONNX Runtime int8: {summary['bertkit_int8']['vs_ort_int8']:.2f}x "
              f"(issue 15 asks ≥ 2x)")
    print("seconds: the whole file after loading and a warm-up batch, tokenization included; ratios: ONNX Runtime's "
          "time / the row's (> 1: the row is faster).")
    print(json.dumps(summary))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
