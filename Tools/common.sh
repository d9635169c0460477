# Shared paths for the Tools/ scripts. Source it; it defines nothing else.
# BERTKIT_CACHE holds everything fetched or built outside the repository (venv, wheels, data).
BERTKIT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BERTKIT_CACHE="${BERTKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bertkit}"
mkdir -p "$BERTKIT_CACHE"
# The venv's folder name carries a hash of requirements.txt, so changing a pin makes a new venv.
BERTKIT_VENV="${BERTKIT_VENV:-$BERTKIT_CACHE/venv-$(sha256sum "$BERTKIT_ROOT/Tools/requirements.txt" | cut -c1-12)}"
export BERTKIT_ROOT BERTKIT_CACHE BERTKIT_VENV
