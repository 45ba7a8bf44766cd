#!/usr/bin/env python3
"""Issue 5: promoting a cached asset into the drive copies no bytes, so it takes as long for 1 GB
as for 1 MB. For each size: a valid MP4 (a short clip followed by a `free` box of padding) is
fetched once into the temporary cache through a `src` preload, then promoted by asking again with
save-to-media; the promotion's wall time (POST to `done`, polled every 2 ms) is printed next to the
time `cp` + `sync` takes to copy the same bytes on the same disk.

Usage: bench/promotion.py BIN WORKDIR PORT
"""
import http.server
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.request

BIN, WORK, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
SIZES = [("1 MB", 1 << 20), ("100 MB", 100 << 20), ("1 GB", 1 << 30)]
RUNS = 5
BASE = f"http://127.0.0.1:{PORT}"


def make_clip(path, size):
    """A playable MP4 padded to `size` bytes with a top-level free box."""
    small = path + ".small.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=25:duration=1", "-c:v", "libx264", "-preset",
                    "ultrafast", "-pix_fmt", "yuv420p", small], check=True)
    head = open(small, "rb").read()
    os.remove(small)
    pad = size - len(head)
    with open(path, "wb") as f:
        f.write(head)
        f.write(struct.pack(">I", pad) + b"free")
        chunk = b"\0" * (8 << 20)
        left = pad - 8
        while left > 0:
            f.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)


def call(method, path, key, body=None):
    req = urllib.request.Request(BASE + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"x-api-key": key, "content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def run_preload(key, item):
    started = time.perf_counter()
    pid = call("POST", "/v2/preloads", key, {"preload": [item]})["id"]
    while True:
        got = call("GET", f"/v2/preloads/{pid}", key)
        if got["status"] == "done":
            elapsed = time.perf_counter() - started
            result = got["items"][0]
            assert result["status"] == "ready", result
            return elapsed, result
        time.sleep(0.002)


def copy_time(src):
    dst = src + ".copy"
    started = time.perf_counter()
    shutil.copyfile(src, dst)
    os.sync()
    elapsed = time.perf_counter() - started
    os.remove(dst)
    return elapsed


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    files = os.path.join(WORK, "files")
    os.makedirs(files)
    config = os.path.join(WORK, "bench.toml")
    with open(config, "w") as f:
        f.write("[generation]\nmax_asset_bytes = 2147483648\ntimeout_secs = 900\n"
                "fetch_timeout_secs = 900\ninitial_credits = 1000\n")
    data = os.path.join(WORK, "data")
    key = subprocess.run([BIN, "key", "create", "--client", "bench", "--role", "admin",
                          "--data-dir", data, "--config", config, "--default-quota-bytes", "0"],
                         check=True, capture_output=True, text=True).stdout.strip()
    server = subprocess.Popen([BIN, "serve", "--data-dir", data, "--config", config,
                               "--listen", f"127.0.0.1:{PORT}", "--fetch-allow", "127.0.0.1/32",
                               "--default-quota-bytes", "0"],
                              env={**os.environ, "RUST_LOG": "warn"})
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=files)
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    origin = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(BASE + "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        print("| asset | fetch into the cache (once) | promotion, median of 5 | cp + sync of the same bytes, median of 5 |")
        print("|---|---|---|---|")
        for label, size in SIZES:
            promotions, copies, fetches = [], [], []
            for run in range(RUNS):
                name = f"clip-{size}-{run}.mp4"
                make_clip(os.path.join(files, name), size)
                src = f"http://127.0.0.1:{origin.server_port}/{name}"
                item = {"id": f"clip_{size}_{run}", "type": "video", "src": src}
                fetched, cached = run_preload(key, item)
                assert cached["persistent"] is False and cached["size"] == size, cached
                fetches.append(fetched)
                promoted_s, promoted = run_preload(key, {**item, "save-to-media": True})
                assert promoted["persistent"] is True and promoted["size"] == size, promoted
                promotions.append(promoted_s)
                copies.append(copy_time(os.path.join(files, name)))
                os.remove(os.path.join(files, name))
            ms = lambda xs: f"{statistics.median(xs) * 1000:.1f} ms"
            print(f"| {label} | {ms(fetches)} | {ms(promotions)} | {ms(copies)} |", flush=True)
    finally:
        server.terminate()
        server.wait()
        origin.shutdown()


if __name__ == "__main__":
    main()
