#!/usr/bin/env bash
# Benchmarks of issue 2, each beside its reference in the same run on the same disk:
#   1. upload ingest of a 500 MB file vs `tee | b3sum` + sync (and the server's peak RSS),
#   2. GET throughput of 1 MiB and 10 KiB files vs nginx, both loaded by wrk over loopback (and of a
#      4 MiB file, above the memory cache's per-file limit, so streamed from disk),
#   3. latency of one listing page in a folder of 100,000 files.
# Needs: nginx wrk b3sum curl jq python3 (Debian packages). Usage: bench/run.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(realpath -m "${1:-bench/out}")
PORT=18181
NGINX_PORT=18182
WRK_ARGS=(-t2 -c64 -d10s)
INGEST_RUNS=3
SIZE=$((500 * 1024 * 1024))

cargo build --release -q
BIN=$PWD/target/release/mediadrive
rm -rf "$WORK" && mkdir -p "$WORK/nginx-root/bench/files/bench"
BASE=http://127.0.0.1:$PORT

cleanup() {
    [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null || true
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT

start_server() {
    RUST_LOG=warn "$BIN" serve --data-dir "$WORK/data" --listen 127.0.0.1:$PORT &
    SERVER_PID=$!
    for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && return; sleep 0.1; done
    echo "server did not start" >&2; exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

ticket() { # name size content-type -> upload URL
    curl -sf -X POST "$BASE/v2/media/file" -H "x-api-key: $KEY" -H 'Content-Type: application/json' \
        -d "{\"name\":\"$1\",\"contentType\":\"$3\",\"size\":$2,\"folder\":\"bench\"}" | jq -r .uploadUrl
}
now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1 / ($3 - $2) / 1e6:.0f}')"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

start_server
KEY=$("$BIN" key create --data-dir "$WORK/data" --client bench --role admin)
"$BIN" client set --data-dir "$WORK/data" --client bench --quota $((4 * SIZE)) >/dev/null

echo "## Ingest of a 500 MB file ($INGEST_RUNS runs, MB/s, median)"
head -c $SIZE /dev/urandom > "$WORK/src.bin"
cat "$WORK/src.bin" > /dev/null
ours=(); ref=()
for i in $(seq $INGEST_RUNS); do
    t0=$(now); tee "$WORK/ref.bin" < "$WORK/src.bin" | b3sum > /dev/null; sync "$WORK/ref.bin"; t1=$(now)
    ref+=("$(rate $SIZE "$t0" "$t1")"); rm "$WORK/ref.bin"
    url=$(ticket "big$i.bin" $SIZE application/octet-stream)
    t0=$(now); curl -sf -X PUT -H 'Content-Type: application/octet-stream' --upload-file "$WORK/src.bin" "$url" > /dev/null; t1=$(now)
    ours+=("$(rate $SIZE "$t0" "$t1")")
    curl -sf -X DELETE "$BASE/v2/media/file" -H "x-api-key: $KEY" -H 'Content-Type: application/json' \
        -d "{\"name\":\"big$i.bin\",\"folder\":\"bench\"}" > /dev/null
done
ours_m=$(printf '%s\n' "${ours[@]}" | median); ref_m=$(printf '%s\n' "${ref[@]}" | median)
rss=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$SERVER_PID/status)
echo "| mediadrive PUT (HTTP, hash, write, fsync, commit) | ${ours[*]} | **$ours_m** |"
echo "| tee + b3sum + sync | ${ref[*]} | **$ref_m** |"
echo "ratio: $(python3 -c "print(f'{$ours_m / $ref_m:.2f}')")   server peak RSS (VmHWM): ${rss} MiB"
rm "$WORK/src.bin"

echo
echo "## GET throughput (wrk ${WRK_ARGS[*]})"
for spec in "1mib.bin:1048576" "10kib.bin:10240" "4mib.bin:4194304"; do
    name=${spec%%:*}; size=${spec##*:}
    head -c "$size" /dev/urandom > "$WORK/nginx-root/bench/files/bench/$name"
    url=$(ticket "$name" "$size" application/octet-stream)
    curl -sf -X PUT -H 'Content-Type: application/octet-stream' --upload-file "$WORK/nginx-root/bench/files/bench/$name" "$url" > /dev/null
done
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    client_body_temp_path $WORK/nginx-tmp;
    proxy_temp_path $WORK/nginx-tmp;
    fastcgi_temp_path $WORK/nginx-tmp;
    uwsgi_temp_path $WORK/nginx-tmp;
    scgi_temp_path $WORK/nginx-tmp;
    server { listen 127.0.0.1:$NGINX_PORT; root $WORK/nginx-root; }
}
NGINX
mkdir -p "$WORK/nginx-tmp"
nginx -c "$WORK/nginx.conf"
sleep 0.5
echo "| file | mediadrive req/s | nginx req/s | ratio |"
echo "|---|---|---|---|"
for name in 1mib.bin 10kib.bin 4mib.bin; do
    path=/bench/files/bench/$name
    cmp <(curl -sf "$BASE$path") <(curl -sf "http://127.0.0.1:$NGINX_PORT$path")
    m=$(wrk "${WRK_ARGS[@]}" "$BASE$path" | awk '/Requests\/sec/ {print $2}')
    n=$(wrk "${WRK_ARGS[@]}" "http://127.0.0.1:$NGINX_PORT$path" | awk '/Requests\/sec/ {print $2}')
    echo "| $name | $m | $n | $(python3 -c "print(f'{$m / $n:.2f}')") |"
done
kill "$(cat "$WORK/nginx.pid")"; rm -f "$WORK/nginx.pid"

echo
echo "## One listing page in a folder of 100,000 files"
stop_server
python3 bench/seed_files.py "$WORK/data/catalog.db" bench big 100000
start_server
python3 bench/list_latency.py "$BASE" "$KEY" big 2000
