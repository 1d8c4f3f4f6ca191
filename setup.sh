#!/usr/bin/env bash
# One-command set-up on a fresh Debian machine: Python packages, then nis itself (editable).
# torch first and pinned: the local CPU build, never a multi-GB CUDA download.
set -euo pipefail
cd "$(dirname "$0")"
python -m pip install --upgrade-strategy only-if-needed "torch==2.13.0"
python -m pip install --upgrade-strategy only-if-needed -e ".[test,bench]"
