#!/usr/bin/env bash
# Engine benchmark against DuckDB (release build; the first build takes ~30 min on 2 cores).
#   scripts/bench.sh [--events N] [--data DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet duckdb
cargo bench --bench engine -- "$@"
