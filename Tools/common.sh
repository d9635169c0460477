# Shared paths for the Tools/ scripts (and the OpenBLAS kernel fix below). Source it.
# BERTKIT_CACHE holds everything fetched or built outside the repository (venv, wheels, data).
BERTKIT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BERTKIT_CACHE="${BERTKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bertkit}"
mkdir -p "$BERTKIT_CACHE"
# The venv's folder name carries a hash of requirements.txt, so changing a pin makes a new venv.
BERTKIT_VENV="${BERTKIT_VENV:-$BERTKIT_CACHE/venv-$(sha256sum "$BERTKIT_ROOT/Tools/requirements.txt" | cut -c1-12)}"
export BERTKIT_ROOT BERTKIT_CACHE BERTKIT_VENV

# Debian 12's OpenBLAS 0.3.21 runs its SSE3 (Prescott) kernels on CPUs newer than its model table (Emerald Rapids
# here), training ~3.9× slower. The bertkit binary restarts itself with OPENBLAS_CORETYPE set (BLAS.suggestedCoreType in
# Sources/Bert/Kernels/BLAS.swift has the rule and the evidence); test processes that run the library in-process
# (swift test) get the same variable from here, by the same rule.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -r /proc/cpuinfo ]; then
    # `|| true`: before Tools/setup has installed OpenBLAS (or without python3) there is no core to read, and a failing
    # pipeline must not end the sourcing script under `set -euo pipefail`.
    bk_blas_core=$( (OPENBLAS_VERBOSE=2 python3 -c 'import ctypes; ctypes.CDLL("libopenblas.so.0")' 2>&1 || true) | sed -n 's/^Core: //p' | head -1)
    case "$bk_blas_core" in
        Prescott|Core2|Penryn|Dunnington|Nehalem|Atom|Sandybridge|Unknown)
            bk_flags=$(grep -m1 '^flags' /proc/cpuinfo)
            has() { for f in "$@"; do [[ " $bk_flags " == *" $f "* ]] || return 1; done; }
            if has avx512f avx512bw avx512cd avx512dq avx512vl; then export OPENBLAS_CORETYPE=SkylakeX
            elif has avx2 fma bmi2; then export OPENBLAS_CORETYPE=Haswell; fi
            unset -f has; unset bk_flags ;;
    esac
    unset bk_blas_core
fi
