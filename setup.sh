#!/usr/bin/env bash
# One-command set-up on a fresh Debian machine: Python packages, then nis itself (editable).
# torch first and pinned: the local CPU build, never a multi-GB CUDA download.
set -euo pipefail
cd "$(dirname "$0")"
python -m pip install --upgrade-strategy only-if-needed "torch==2.13.0"
python -m pip install --upgrade-strategy only-if-needed -e ".[test,bench]"
# Python <= 3.12 has a stdlib module 'nis'; editable installs leave out the start-up hook that
# lets `import nis` find this package from any directory, so place it (see _nis_import_fix.py).
python _nis_import_fix.py
