#!/usr/bin/env bash
# Issue 3's benchmark: the same upload, list and GET workload on sqlite+fs and on postgres+s3
# (PostgreSQL with fsync on, single-node Garage), then list latency in a PostgreSQL folder of
# 1,000,000 files. Needs what scripts/test needs, plus wrk. Usage: bench/backends.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export MEDIADRIVE_PG_OPTIONS=""
source scripts/lib/services.sh

cargo build --release -q
BIN=$PWD/target/release/mediadrive
PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
WORK=$RUN/bench
SERVER_PID=
stop_server() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null; SERVER_PID=; }
trap 'stop_server; cleanup' EXIT

run_workload() { # name, backend flags...
    local name=$1; shift
    RUST_LOG=warn "$BIN" serve --data-dir "$WORK/$name" --listen 127.0.0.1:$PORT "$@" &
    SERVER_PID=$!
    for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
    KEY=$("$BIN" key create --data-dir "$WORK/$name" "$@" --client bench --role admin)
    echo "### $name"
    python3 bench/upload_load.py "$BASE" "$KEY" load 300 102400 8
    python3 bench/upload_load.py "$BASE" "$KEY" big 4 1048576 2 > /dev/null
    python3 bench/list_latency.py "$BASE" "$KEY" load 1000 50 | sed 's/^/list /'
    for f in load/u0.bin big/u0.bin; do
        echo "GET $f (100 KiB / 1 MiB): $(wrk -t2 -c64 -d10s "$BASE/bench/files/$f" | awk '/Requests\/sec/ {print $2}') req/s"
    done
    stop_server
}

DB="${MEDIADRIVE_TEST_POSTGRES_URL%/*}/bench"
psql "$MEDIADRIVE_TEST_POSTGRES_URL" -qc "CREATE DATABASE bench"
echo "PostgreSQL $(psql "$MEDIADRIVE_TEST_POSTGRES_URL" -Atc 'SHOW server_version'), $(garage --version | head -1)"
run_workload sqlite+fs
run_workload postgres+s3 --database-url "$DB" --blob-url "$MEDIADRIVE_TEST_S3_URL&root=/bench/"

echo "### one listing page in a PostgreSQL folder of 1,000,000 files"
psql "$DB" -q <<SQL
INSERT INTO folders (tenant_id, path, parent, created_at) VALUES ('bench', 'million', '', 0);
INSERT INTO files (id, tenant_id, folder, name, content_type, media_type, size, status, temporary,
                   created_at, updated_at, uploaded_at, blob_hash)
SELECT md5('m' || i), 'bench', 'million', 'file' || lpad(i::text, 7, '0') || '.bin',
       'application/octet-stream', 'other', b.size, 'uploaded', FALSE, i, i, i, b.hash
FROM generate_series(1, 1000000) AS i, (SELECT hash, size FROM blobs LIMIT 1) AS b;
UPDATE blobs SET refcount = refcount + 1000000 WHERE hash = (SELECT blob_hash FROM files WHERE folder = 'million' LIMIT 1);
ANALYZE files;
SQL
RUST_LOG=warn "$BIN" serve --data-dir "$WORK/pg-million" --listen 127.0.0.1:$PORT --database-url "$DB" \
    --blob-url "$MEDIADRIVE_TEST_S3_URL&root=/bench/" &
SERVER_PID=$!
for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
KEY=$("$BIN" key create --data-dir "$WORK/pg-million" --database-url "$DB" --blob-url "$MEDIADRIVE_TEST_S3_URL&root=/bench/" --client bench --role viewer)
python3 bench/list_latency.py "$BASE" "$KEY" million 2000
