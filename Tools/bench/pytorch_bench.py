"""PyTorch checkpoints: open a 440 MB bert-base-uncased-shaped `pytorch_model.bin` (zip, as torch.save
writes it) and touch every tensor (bertkit: `inspect --checksum`, i.e. mmap, unpickle and CRC-32 every
tensor; Python: `torch.load(weights_only=True)` then zlib.crc32 of every tensor, and the same with
`mmap=True`); convert it to safetensors (bertkit `convert`; Python `save_file(torch.load(...))`); and
write it back as a PyTorch file (bertkit `convert x.safetensors pytorch_model.bin`; Python
`torch.save(load_file(x))`). bertkit's writers fsync before their rename; the Python writers do not, so
writes are reported both as-is and with an fsync added to the Python side. Each write starts from a
deleted output and a synced disk."""
import filecmp
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import CACHE, bertkit_json_job, bertkit_job, bert_base_state, fresh_output, median_of, python_job, report

source = bert_base_state(os.path.join(CACHE, "bench", "bert-base-pt", "pytorch_model.bin"), kind="pt")
out_dir = os.path.join(CACHE, "bench", "out")
for side in ("bertkit", "python"):
    os.makedirs(os.path.join(out_dir, side), exist_ok=True)
mine_st, ref_st = os.path.join(out_dir, "bertkit", "model.safetensors"), os.path.join(out_dir, "python", "model.safetensors")
# The same file name on both sides: torch names the archive's folder after it, so the bytes can match.
mine_pt, ref_pt = os.path.join(out_dir, "bertkit", "pytorch_model.bin"), os.path.join(out_dir, "python", "pytorch_model.bin")

TOUCH = """
import json, sys, time, zlib
import torch
start = time.perf_counter()
state = torch.load(sys.argv[1], weights_only=True, mmap=sys.argv[2] == "mmap")
crc = {k: zlib.crc32(v.contiguous().numpy().view('uint8')) for k, v in state.items()}
print(json.dumps({"seconds": time.perf_counter() - start, "tensors": len(crc)}))
"""
TO_SAFETENSORS = """
import json, os, sys, time
import torch
from safetensors.torch import save_file
start = time.perf_counter()
save_file(torch.load(sys.argv[1], weights_only=True), sys.argv[2], metadata={"format": "pt"})
if sys.argv[3] == "fsync":
    fd = os.open(sys.argv[2], os.O_RDONLY); os.fsync(fd); os.close(fd)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""
TO_PYTORCH = """
import json, os, sys, time
import torch
from safetensors.torch import load_file
start = time.perf_counter()
torch.save(load_file(sys.argv[1]), sys.argv[2])
if sys.argv[3] == "fsync":
    fd = os.open(sys.argv[2], os.O_RDONLY); os.fsync(fd); os.close(fd)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""

size_mb = os.path.getsize(source) / 1e6
touch_mine = median_of(lambda: bertkit_json_job("benchmark", "touch", source))      # timed inside the process
touch_mine_process = median_of(lambda: bertkit_job("inspect", "--checksum", source))  # the whole process
touch_ref = median_of(lambda: python_job(TOUCH, source, "read"))
touch_ref_mmap = median_of(lambda: python_job(TOUCH, source, "mmap"))
st_mine = median_of(lambda: bertkit_job("convert", source, mine_st), before=fresh_output(mine_st))
st_ref = median_of(lambda: python_job(TO_SAFETENSORS, source, ref_st, "no-fsync"), before=fresh_output(ref_st))
st_ref_sync = median_of(lambda: python_job(TO_SAFETENSORS, source, ref_st, "fsync"), before=fresh_output(ref_st))
pt_mine = median_of(lambda: bertkit_job("convert", mine_st, mine_pt), before=fresh_output(mine_pt))
pt_ref = median_of(lambda: python_job(TO_PYTORCH, ref_st, ref_pt, "no-fsync"), before=fresh_output(ref_pt))
pt_ref_sync = median_of(lambda: python_job(TO_PYTORCH, ref_st, ref_pt, "fsync"), before=fresh_output(ref_pt))


report(f"PyTorch zip, bert-base-uncased shapes ({size_mb:.0f} MB)", [
    ("open + touch every tensor", touch_mine, touch_ref, "torch.load(weights_only) + crc32"),
    ("open + touch (reference mmap=True)", touch_mine, touch_ref_mmap, "torch.load(weights_only, mmap) + crc32"),
    ("  the same, bertkit's whole process", touch_mine_process, touch_ref_mmap, "(bertkit start-up included)"),
    ("to safetensors (ref without fsync)", st_mine, st_ref, "save_file(torch.load())"),
    ("to safetensors (both fsync)", st_mine, st_ref_sync, "save_file(torch.load()) + fsync"),
    ("to pytorch (ref without fsync)", pt_mine, pt_ref, "torch.save(load_file())"),
    ("to pytorch (both fsync)", pt_mine, pt_ref_sync, "torch.save(load_file()) + fsync"),
])
print(f"safetensors outputs byte-identical: {filecmp.cmp(mine_st, ref_st, shallow=False)}; pytorch outputs byte-identical: {filecmp.cmp(mine_pt, ref_pt, shallow=False)}")
