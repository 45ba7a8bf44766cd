#!/usr/bin/env bash
# Issue 5: promotion of a cached asset (1 MB, 100 MB, 1 GB) against copying its bytes.
# Needs: ffmpeg python3. Usage: bench/promotion.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
exec python3 bench/promotion.py "$PWD/target/release/mediadrive" "$(realpath -m "${1:-bench/out-promotion}")" 18191
