"""safetensors: open a 440 MB bert-base-uncased-shaped file and touch every tensor (bertkit: mmap and
CRC-32 every tensor; Python: `load_file` then zlib.crc32 of every tensor; both timed inside the process,
imports excluded, and bertkit also as a whole process, `inspect --checksum`), and rewrite it (bertkit
`convert`; Python `save_file(load_file(a), b)`). bertkit's writer fsyncs before its rename (it must
be durable and atomic); safetensors' does not, so the rewrite is reported both as-is and with an fsync
added to the Python side. Each rewrite starts from a deleted output and a synced disk."""
import filecmp
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import CACHE, bertkit_job, bertkit_json_job, bert_base_state, fresh_output, median_of, python_job, report

source = bert_base_state(os.path.join(CACHE, "bench", "bert-base.safetensors"))
out_dir = os.path.join(CACHE, "bench", "out")
os.makedirs(out_dir, exist_ok=True)
mine_out, ref_out = os.path.join(out_dir, "bertkit.safetensors"), os.path.join(out_dir, "python.safetensors")

TOUCH = """
import json, sys, time, zlib
from safetensors.torch import load_file
start = time.perf_counter()
state = load_file(sys.argv[1])
crc = {k: zlib.crc32(v.numpy().view('uint8')) for k, v in state.items()}
print(json.dumps({"seconds": time.perf_counter() - start, "tensors": len(crc)}))
"""
REWRITE = """
import json, os, sys, time
from safetensors.torch import load_file, save_file
start = time.perf_counter()
save_file(load_file(sys.argv[1]), sys.argv[2], metadata={"format": "pt"})
if sys.argv[3] == "fsync":   # the same durability bertkit gives (its writer fsyncs before renaming)
    fd = os.open(sys.argv[2], os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""

size_mb = os.path.getsize(source) / 1e6
touch_mine = median_of(lambda: bertkit_json_job("benchmark", "touch", source))      # timed inside the process
touch_mine_process = median_of(lambda: bertkit_job("inspect", "--checksum", source))  # the whole process
touch_ref = median_of(lambda: python_job(TOUCH, source))
rewrite_mine = median_of(lambda: bertkit_job("convert", source, mine_out), before=fresh_output(mine_out))
rewrite_ref = median_of(lambda: python_job(REWRITE, source, ref_out, "no-fsync"), before=fresh_output(ref_out))
rewrite_ref_sync = median_of(lambda: python_job(REWRITE, source, ref_out, "fsync"), before=fresh_output(ref_out))
identical = filecmp.cmp(mine_out, ref_out, shallow=False)
report(f"safetensors, bert-base-uncased shapes ({size_mb:.0f} MB)", [
    ("open + touch every tensor", touch_mine, touch_ref, "safetensors load_file + crc32"),
    ("  the same, bertkit's whole process", touch_mine_process, touch_ref, "(bertkit start-up included)"),
    ("rewrite (reference without fsync)", rewrite_mine, rewrite_ref, "save_file(load_file())"),
    ("rewrite (both fsync)", rewrite_mine, rewrite_ref_sync, "save_file(load_file()) + fsync"),
])
print(f"rewritten files byte-identical: {identical}")
