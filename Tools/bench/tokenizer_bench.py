"""tokenizer: encode the sentiment corpus (23,699 movie-review, Amazon, NYT and tweet snippets of the
vaderSentiment 3.3.2 sdist, fetched by Tools/fetch) with the bert-base-uncased vocabulary of
all-MiniLM-L6-v2 — bertkit (`bertkit tokenize --file … --summary --json`) against the Rust `tokenizers`
fast tokenizer from Python (`Tokenizer.from_file(…).encode_batch`), on 1 thread and on BENCH_THREADS
threads (2 by default; Python: RAYON_NUM_THREADS with TOKENIZERS_PARALLELISM=true).

Two measurements per thread count:
  - encode: the time spent encoding only, measured inside each process (bertkit reports it; Python
    times `encode_batch`);
  - whole run: the process wall time, start-up, loading the tokenizer and reading the file included.
Before timing, the outputs are compared: ids, offsets and tokens of every text must be identical."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import benchlib  # noqa: E402
from benchlib import BERTKIT, CACHE, REPEATS, THREADS, run_with_rss  # noqa: E402

MODEL = os.path.join(CACHE, "models", "all-MiniLM-L6-v2")
CORPUS = os.path.join(CACHE, "data", "sentiment", "all.txt")
for path in (MODEL, CORPUS):
    if not os.path.exists(path):
        raise SystemExit(f"{path} is missing: run Tools/fetch")

ENCODE = """
import json, sys, time
from tokenizers import Tokenizer
tokenizer = Tokenizer.from_file(sys.argv[1] + "/tokenizer.json")
tokenizer.no_truncation()   # tokenizer.json asks for truncation and padding to 128; transformers'
tokenizer.no_padding()      # BertTokenizer (and bertkit) only apply them when a call asks
with open(sys.argv[2], encoding="utf-8") as f:
    texts = f.read().split("\\n")[:-1]
start = time.perf_counter()
encodings = tokenizer.encode_batch(texts)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "texts": len(texts), "tokens": sum(len(e.ids) for e in encodings)}))
"""

VERIFY = """
import json, sys
from tokenizers import Tokenizer
tokenizer = Tokenizer.from_file(sys.argv[1] + "/tokenizer.json")
tokenizer.no_truncation()
tokenizer.no_padding()
with open(sys.argv[2], encoding="utf-8") as f:
    texts = f.read().split("\\n")[:-1]
with open(sys.argv[3], encoding="utf-8") as f:
    mine = [json.loads(line) for line in f]
assert len(mine) == len(texts), (len(mine), len(texts))
bad = [i for i, (e, m) in enumerate(zip(tokenizer.encode_batch(texts), mine))
       if e.ids != m["input_ids"] or e.tokens != m["tokens"] or [list(o) for o in e.offsets] != m["offsets"]
       or e.type_ids != m["token_type_ids"] or e.attention_mask != m["attention_mask"]]
print(json.dumps({"texts": len(texts), "mismatches": len(bad), "first": texts[bad[0]] if bad else None}))
"""


def environment(threads):
    """The job environment for a thread count (benchlib's ENV, which run_with_rss uses, updated)."""
    env = dict(benchlib.ENV, BERTKIT_THREADS=str(threads), RAYON_NUM_THREADS=str(threads),
               TOKENIZERS_PARALLELISM="true" if threads > 1 else "false")
    benchlib.ENV.clear()
    benchlib.ENV.update(env)


def bertkit_run(threads):
    wall, rss, out = run_with_rss([BERTKIT, "tokenize", "--model", MODEL, "--file", CORPUS, "--summary", "--json",
                                   "--threads", str(threads)])
    summary = json.loads(out)
    return {"seconds": summary["seconds"], "wall": wall, "rss_mb": rss, "tokens": summary["tokens"],
            "texts": summary["texts"]}


def python_run():
    wall, rss, out = run_with_rss([sys.executable, "-c", ENCODE, MODEL, CORPUS])
    result = json.loads(out.strip().splitlines()[-1])
    result.update(wall=wall, rss_mb=rss)
    return result


def verify():
    environment(THREADS)
    out_path = os.path.join(CACHE, "bench", "tokenize.jsonl")
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "wb") as f:
        subprocess.run([BERTKIT, "tokenize", "--model", MODEL, "--file", CORPUS, "--json-lines"], stdout=f, check=True,
                       env=benchlib.ENV)
    result = subprocess.run([sys.executable, "-c", VERIFY, MODEL, CORPUS, out_path], capture_output=True, check=True,
                            env=benchlib.ENV)
    os.remove(out_path)
    return json.loads(result.stdout.decode().strip().splitlines()[-1])


def medians(job):
    """One warm-up, then REPEATS runs: the median run by encode time and the median run by wall time
    (the latter with its wall time as "seconds")."""
    job()
    runs = [job() for _ in range(REPEATS)]
    encode = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    whole = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
    return encode, dict(whole, seconds=whole["wall"])


check = verify()
rows = []
for threads in sorted({1, THREADS}):
    environment(threads)
    mine, whole_mine = medians(lambda: bertkit_run(threads))
    ref, whole_ref = medians(python_run)
    rows.append((threads, mine, ref, whole_mine, whole_ref))

tokens = rows[0][1]["tokens"]
print(f"\n## tokenizer: sentiment corpus, {rows[0][1]['texts']} texts, {tokens} tokens, bert-base-uncased vocabulary "
      f"(median of {REPEATS})")
print(f"outputs identical to tokenizers on every text: {check['mismatches'] == 0} "
      f"({check['mismatches']} of {check['texts']} differ)")
print(f"{'task':<28} {'bertkit s':>10} {'M tok/s':>8} {'ref s':>9} {'M tok/s':>8} {'speed ratio':>12} "
      f"{'bertkit MB':>11} {'ref MB':>7}  reference")
for threads, mine, ref, whole_mine, whole_ref in rows:
    for label, a, b in ((f"encode, {threads} thread{'s' if threads > 1 else ''}", mine, ref),
                        (f"whole run, {threads} thread{'s' if threads > 1 else ''}", whole_mine, whole_ref)):
        print(f"{label:<28} {a['seconds']:>10.3f} {tokens / a['seconds'] / 1e6:>8.2f} {b['seconds']:>9.3f} "
              f"{tokens / b['seconds'] / 1e6:>8.2f} {b['seconds'] / a['seconds']:>11.2f}x {a['rss_mb']:>11.0f} "
              f"{b['rss_mb']:>7.0f}  tokenizers encode_batch")
print("encode: time inside the process spent encoding; whole run: process wall time (start-up, loading the "
      "tokenizer and reading the file included). Ratio > 1: bertkit is faster.")
sys.stdout.flush()
