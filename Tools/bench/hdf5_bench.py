"""HDF5: a bert-base-uncased-shaped tf_model.h5 (TFBertModel layout, 440 MB, written once with Keras' h5py
call sequence from benchlib's random bert-base state dict), against h5py in the same run:

* read every weight: bertkit `inspect --checksum` (open, map TF names to PyTorch, transpose the kernels,
  CRC-32 every tensor) vs h5py reading every dataset listed in the weight_names into NumPy + zlib.crc32;
* read + write back: bertkit `convert tf_model.h5 out.h5` vs h5py reading every dataset and writing them
  back with Keras' call sequence;
* safetensors -> tf_model.h5: bertkit `convert model.safetensors tf_model.h5` vs safetensors `load_file`,
  transposed kernels and Keras' call sequence through h5py.

bertkit's writer fsyncs before its rename (atomic and durable); h5py does not, so each write is also
reported with an fsync added to the Python side. Every write starts from a deleted output and a synced disk."""
import filecmp
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import CACHE, bertkit_json_job, ENV, ROOT, bertkit_job, bert_base_state, fresh_output, median_of, python_job, report

FIXTURE_TOOLS = os.path.join(ROOT, "Tools", "fixtures")
source = bert_base_state(os.path.join(CACHE, "bench", "bert-base.safetensors"))
tf_model = os.path.join(CACHE, "bench", "bert-base-tf_model.h5")
if not os.path.exists(tf_model):   # made in a child process, so this one stays small
    subprocess.run([sys.executable, "-c", f"""
import os, sys
sys.path.insert(0, {FIXTURE_TOOLS!r})
import make_hdf5_fixtures as ref
from safetensors.torch import load_file
state = load_file({source!r})
ref.save_keras_weights({tf_model!r} + ".tmp", ref.keras_layers("TFBertModel", state, 12))
os.replace({tf_model!r} + ".tmp", {tf_model!r})
"""], check=True, env=ENV)

out_dir = os.path.join(CACHE, "bench", "out")
os.makedirs(out_dir, exist_ok=True)
mine_out, ref_out = os.path.join(out_dir, "bertkit_tf_model.h5"), os.path.join(out_dir, "h5py_tf_model.h5")
mine_st, ref_st = os.path.join(out_dir, "bertkit_from_st_tf_model.h5"), os.path.join(out_dir, "h5py_from_st_tf_model.h5")

PRELUDE = f"""
import json, os, sys, time, zlib
sys.path.insert(0, {FIXTURE_TOOLS!r})
import h5py, numpy as np
import make_hdf5_fixtures as ref

def read_all(path):
    with h5py.File(path, "r") as f:
        return [(layer, [(w, f[layer][w][()]) for w in ref.load_attributes(f[layer], "weight_names")])
                for layer in ref.load_attributes(f, "layer_names")]

def durable(path):
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
"""
READ = PRELUDE + """
start = time.perf_counter()
layers = read_all(sys.argv[1])
crc = [zlib.crc32(array) for _, weights in layers for _, array in weights]
print(json.dumps({"seconds": time.perf_counter() - start, "tensors": len(crc)}))
"""
ROUND_TRIP = PRELUDE + """
start = time.perf_counter()
ref.save_keras_weights(sys.argv[2], read_all(sys.argv[1]))
if sys.argv[3] == "fsync":
    durable(sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - start}))
"""
FROM_SAFETENSORS = PRELUDE + """
from safetensors.torch import load_file
start = time.perf_counter()
ref.save_keras_weights(sys.argv[2], ref.keras_layers("TFBertModel", load_file(sys.argv[1]), 12))
if sys.argv[3] == "fsync":
    durable(sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - start}))
"""

size_mb = os.path.getsize(tf_model) / 1e6
read_mine = median_of(lambda: bertkit_json_job("benchmark", "touch", tf_model))      # timed inside the process
read_mine_process = median_of(lambda: bertkit_job("inspect", "--checksum", tf_model))  # the whole process
read_ref = median_of(lambda: python_job(READ, tf_model))
trip_mine = median_of(lambda: bertkit_job("convert", tf_model, mine_out), before=fresh_output(mine_out))
trip_ref = median_of(lambda: python_job(ROUND_TRIP, tf_model, ref_out, "no-fsync"), before=fresh_output(ref_out))
trip_ref_sync = median_of(lambda: python_job(ROUND_TRIP, tf_model, ref_out, "fsync"), before=fresh_output(ref_out))
st_mine = median_of(lambda: bertkit_job("convert", source, mine_st), before=fresh_output(mine_st))
st_ref = median_of(lambda: python_job(FROM_SAFETENSORS, source, ref_st, "no-fsync"), before=fresh_output(ref_st))
st_ref_sync = median_of(lambda: python_job(FROM_SAFETENSORS, source, ref_st, "fsync"), before=fresh_output(ref_st))
# Compared last and in small pieces: this process must stay small (children inherit its peak RSS).
trip_identical = filecmp.cmp(mine_out, ref_out, shallow=False) and filecmp.cmp(mine_out, tf_model, shallow=False)
st_identical = filecmp.cmp(mine_st, ref_st, shallow=False)
report(f"HDF5, bert-base-uncased-shaped tf_model.h5 ({size_mb:.0f} MB)", [
    ("read every weight (+CRC-32)", read_mine, read_ref, "h5py read all into NumPy + crc32"),
    ("  the same, bertkit's whole process", read_mine_process, read_ref, "(bertkit start-up included)"),
    ("read + write back (no fsync ref)", trip_mine, trip_ref, "h5py read all + Keras write"),
    ("read + write back (both fsync)", trip_mine, trip_ref_sync, "h5py read all + Keras write + fsync"),
    ("safetensors -> tf_model.h5", st_mine, st_ref, "load_file + Keras write via h5py"),
    ("safetensors -> tf_model.h5 (fsync)", st_mine, st_ref_sync, "load_file + Keras write + fsync"),
])
print(f"written files byte-identical to h5py's: read+write back {trip_identical}, from safetensors {st_identical}")
