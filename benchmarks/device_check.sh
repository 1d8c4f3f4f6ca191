#!/usr/bin/env bash
# nis' GPU checks in one call of a lent GPU machine (the device tool's `run`), sized for about
# eight minutes on an H200: the bridge built there, the CUDA tests, flow throughput, bench rows on
# cuda with their time split and the speed-up over the committed CPU rows, and generative sampling
# on cuda where model files travel with the call.
#
# On this machine, once per session (the device machine reaches no package index; its python3 is
# 3.12 with torch, numpy, scipy, h5py, matplotlib, pybind11 and pytest, but no vegas or madnis):
#   bash benchmarks/device_check.sh --wheels        # vegas, gvar, mpmath, madnis wheels into .whl/
# Then the device tool: run(command="bash benchmarks/device_check.sh", carry=[".whl"], timeout_s=600)
# (add "benchmarks/results/generative/inn/model.pt" etc. to carry for the sampling rows).
# Everything comes back as $OUT/device-results.tgz (unpack into benchmarks/results/) and
# $OUT/device-check.log; the summary table is printed last.
# Dry run on the CPU: NIS_DEVICE=cpu NIS_CHECK_SMALL=1 OUT=/tmp/dc bash benchmarks/device_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--wheels" ]]; then
    exec python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl vegas==6.4.1 gvar==13.1.10 mpmath==1.4.1 madnis==1.0.0
fi

DEVICE=${NIS_DEVICE:-cuda}
OUT=${OUT:-benchmarks/results/device-check}
RESULTS=$(mktemp -d)
mkdir -p "$OUT"
LOG="$OUT/device-check.log"
: >"$LOG"
STATUS=()
if [[ -n "${NIS_CHECK_SMALL:-}" ]]; then  # the dry run: tiny budgets
    BENCH_BUDGET=(--calls 20000 --eval 5000 --seeds 1); SPEED=(--points 20000 --repeats 2); EVENTS=20000
else
    BENCH_BUDGET=(--seeds 3); SPEED=(); EVENTS=1000000
fi

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log, remember the outcome
    local name=$1 limit=$2
    shift 2
    echo "=== $name ($(date +%T), limit ${limit}s): $*" | tee -a "$LOG"
    local start=$SECONDS
    PYTHONUNBUFFERED=1 timeout "$limit" "$@" >>"$LOG" 2>&1
    local rc=$?
    STATUS+=("$(printf '%-28s rc %3d  %4d s' "$name" "$rc" $((SECONDS - start)))")
    tail -n 3 "$LOG"
    return $rc
}

if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/nis-site \
        .whl/*.whl >>"$LOG" 2>&1 && export PYTHONPATH=/tmp/nis-site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # before the standard library's own module 'nis'
python3 -c "import nis._bridge" 2>/dev/null ||
    step build 150 env NIS_BUILD_JOBS="$(nproc)" python3 setup.py -q build_ext --inplace
step environment 30 python3 -c "
import torch, nis
from nis.device import torch_device
d = torch_device('$DEVICE')
print('torch', torch.__version__, 'device', d, torch.cuda.get_device_name(d) if d.type == 'cuda' else 'cpu')"

step cuda-tests 90 python3 -m pytest -q -p no:cacheprovider -k "cuda or device" \
    tests/test_device.py tests/test_flows.py tests/test_testfunctions.py tests/test_bridge.py tests/test_bench.py
step flow-speed 60 python3 benchmarks/bench_speed.py --device "$DEVICE" "${SPEED[@]}" --out "$RESULTS"
# the bench rows: the ee-jets cases whose CPU rows took longest in flows and training
step bench-ee-jets 200 python3 -m nis.cli bench ee-jets --cases ee_3jets ee_4jets --methods vegas nis \
    "${BENCH_BUDGET[@]}" --device "$DEVICE" --out "$RESULTS" --name "ee-jets-$DEVICE" --quiet
models=$(ls benchmarks/results/generative/{inn,discflow,binn}/model.pt 2>/dev/null)
if [[ -n "$models" ]]; then
    # shellcheck disable=SC2086
    step generative-sampling 60 python3 benchmarks/bench_generative_sampling.py --device "$DEVICE" --threads 1 \
        --events "$EVENTS" --models $models --out "$RESULTS"
fi

cpu_rows=$(ls benchmarks/results/ee-jets-20[0-9][0-9]-*.json | tail -n 1)  # the newest committed CPU suite
python3 - "$RESULTS/ee-jets-$DEVICE.json" "$cpu_rows" <<'EOF' | tee -a "$LOG"
import json, sys
from pathlib import Path
new, cpu = (Path(p) for p in sys.argv[1:])
if not new.exists():
    sys.exit(f"no bench rows in {new}")
record = json.loads(new.read_text())
rows, ref = record["rows"], json.loads(cpu.read_text())["rows"]
key = lambda r: (r["case"], r["method"], r["seed"], r["train_budget"], r["eval_budget"])
cpu_rows = {key(r): r for r in ref}
print("bench rows on", record["meta"].get("gpu", "cpu"), "(seconds; CPU: the committed row)")
print(f"{'case':10s} {'method':6s} seed  eff      cpu s  dev s  speed-up  train: ME  phase sp. flows+train")
for r in rows:
    c = cpu_rows.get(key(r))
    t = r["train_seconds"] + r["eval_seconds"]
    split = r.get("time_split", {}).get("train", {})
    up = f"{(c['train_seconds'] + c['eval_seconds']) / t:8.2f}" if c else "       -"
    cs = f"{c['train_seconds'] + c['eval_seconds']:6.0f}" if c else "     -"
    print(f"{r['case']:10s} {r['method']:6s} {r['seed']:4d}  {r['efficiency']:.4f}  {cs} {t:6.0f} {up}"
          f"  {split.get('matrix_elements', 0):8.1f} {split.get('phase_space', 0):9.1f} {split.get('sampler_and_training', 0):11.1f}")
EOF
tar czf "$OUT/device-results.tgz" -C "$RESULTS" . && echo "results: $OUT/device-results.tgz ($(ls "$RESULTS" | wc -l) files)"
printf '%s\n' "${STATUS[@]}" | tee -a "$LOG"
