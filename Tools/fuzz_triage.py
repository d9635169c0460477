#!/usr/bin/env python3
"""Sorts what the hdf5 fuzz target saved (Tools/fuzz) into problems inside libhdf5 and problems in bertkit's own code.

  python3 Tools/fuzz_triage.py FUZZER FINDINGS_FOLDER

Each saved input is run once more in the libFuzzer binary (FUZZER FILE), and the first stack frame that is neither the
sanitizer / libFuzzer runtime nor libc decides: a frame in libhdf5 makes it libhdf5's (the `bertkit` command survives
those by reading HDF5 in a child process, Sources/Checkpoints/IsolatedHDF5.swift, and the hostile-file tests prove it);
any other frame makes it bertkit's, a bug to fix. Exit 1 when any is bertkit's; prints one line per input.
"""
import os, re, subprocess, sys

RUNTIME = re.compile(r"in (__asan|__interceptor|__sanitizer|__lsan|__ubsan|fuzzer::|LLVMFuzzer|__libc|abort|raise|"
                     r"gsignal|__GI_|_start|main$|__restore_rt|__pthread|pthread_)")


def first_frame(log: str):
    """The first frame after the runtime's own, as (function, location) — or None when the log has no stack."""
    for line in log.splitlines():
        match = re.match(r"^\s*#\d+ 0x[0-9a-f]+ (?:in (.+?) )?\(?(/[^ )]+)", line)
        if not match:
            continue
        function, location = match.group(1) or "?", match.group(2)
        if (RUNTIME.search("in " + function) or "/libc.so" in location or "/libc-" in location or "compiler-rt" in location
                or function.split(".")[0] in ("memcpy", "memmove", "memset", "malloc", "calloc", "realloc", "free")):
            continue
        return function, location
    return None


def main():
    fuzzer, folder = sys.argv[1], sys.argv[2]
    environment = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:symbolize=1", BERTKIT_FUZZ_TARGET="hdf5")
    ours = 0
    counts = {"libhdf5": 0, "bertkit": 0, "no longer reproduces": 0, "no stack": 0}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        try:
            run = subprocess.run([fuzzer, "-timeout=10", path], capture_output=True, text=True, errors="replace",
                                 env=environment, timeout=60)
            log, status = run.stdout + run.stderr, run.returncode
        except subprocess.TimeoutExpired:
            log, status = "", -1
        if status == 0:
            verdict = "no longer reproduces"
        else:
            frame = first_frame(log)
            if frame is None:
                verdict = "no stack"
            elif "libhdf5" in frame[1] or frame[0].startswith("H5"):
                verdict = "libhdf5"
            else:
                verdict = "bertkit"
        counts[verdict] += 1
        kind = "hang" if name.startswith("timeout") else "memory" if name.startswith(("oom", "slow")) else "crash"
        where = "" if verdict == "no longer reproduces" else " at " + " ".join(first_frame(log) or ("?", "?"))
        print(f"{name}: {kind}, {verdict}{where}")
        if verdict in ("bertkit", "no stack"):
            ours += 1
    print("hdf5 findings: " + ", ".join(f"{count} {kind}" for kind, count in counts.items()), file=sys.stderr)
    sys.exit(1 if ours else 0)


if __name__ == "__main__":
    main()
