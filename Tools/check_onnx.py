"""Runs an ONNX model in ONNX Runtime on the inputs of a parity reference (Tools/make_reference.py) and compares every
output the reference holds: what `Tools/demo` uses to check bertkit's ONNX export of the fine-tuned model.

    Tools/python Tools/check_onnx.py model.onnx reference.safetensors [--atol 1e-4]

Prints one line per output (max |difference|) and exits 1 when one is past the tolerance."""
import argparse
import sys

import numpy as np
import onnx
import onnxruntime as ort
from safetensors.numpy import load_file


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("reference")
    parser.add_argument("--atol", type=float, default=1e-4)
    args = parser.parse_args()
    onnx.checker.check_model(args.model, full_check=True)
    reference = load_file(args.reference)
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    feed = {i.name: reference[i.name].astype(np.int64) for i in session.get_inputs()}
    outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))
    worst, compared = 0.0, 0
    for name, value in outputs.items():
        if name not in reference:
            continue
        if value.shape != reference[name].shape:
            sys.exit(f"error: {args.model}: {name} is {list(value.shape)}, the reference {list(reference[name].shape)}")
        if not np.isfinite(value).all():
            sys.exit(f"error: {args.model}: {name} holds NaN or infinity")
        difference = float(np.abs(value - reference[name]).max())
        worst = max(worst, difference)
        compared += 1
        print(f"ONNX Runtime {ort.__version__} {name} {list(value.shape)}: max |difference| {difference:.2e} (atol {args.atol:g})")
    if compared == 0:
        sys.exit(f"error: {args.model}: none of its outputs ({', '.join(outputs)}) is in {args.reference}")
    if worst > args.atol:
        sys.exit(f"error: {args.model}: ONNX Runtime differs from the reference by {worst:.2e} (atol {args.atol:g})")


if __name__ == "__main__":
    main()
