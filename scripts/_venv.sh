# Sourced by scripts/demo and scripts/test: create .venv if missing and install hub-lineage.
# torch==2.13.0 goes in FIRST: pip then takes the CPU build, and later requirements that
# need torch are satisfied by it instead of pulling several GB of CUDA packages.
# Usage: ensure_venv EXTRA   (e.g. "all" or "dev")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

ensure_venv() {
  local extra="$1"
  if [ ! -x "$PY" ]; then
    echo "[setup] creating $VENV" >&2
    python3 -m venv "$VENV"
  fi
  # Re-install only when pyproject.toml or the extra changed (a stamp keeps re-runs fast).
  local stamp="$VENV/.hub_lineage_$extra"
  local want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "[setup] installing hub-lineage[$extra] into .venv (first run takes a few minutes)" >&2
  local log="$VENV/install.log"
  if ! { "$PY" -m pip install --disable-pip-version-check "torch==2.13.0" &&
         "$PY" -m pip install --disable-pip-version-check -e "$ROOT[$extra]"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "[setup] installation failed; the full log is $log" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
}
