#!/usr/bin/env python3
"""Upload workload: N files of SIZE bytes by C concurrent clients, each the seed's two steps
(ask for a presigned URL, PUT the bytes) plus waiting until the server confirms the file.

usage: upload_load.py BASE_URL API_KEY FOLDER N SIZE CONCURRENCY
"""
import concurrent.futures
import http.client
import json
import os
import sys
import time
import urllib.parse

base, key, folder, n, size, conc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])


def request(url, method, body=None, headers=None):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    path = u.path + ("?" + u.query if u.query else "")
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def upload(i):
    data = os.urandom(size)
    start = time.perf_counter()
    status, body = request(base + "/v2/media/file", "POST",
                           json.dumps({"name": f"u{i}.bin", "contentType": "application/octet-stream",
                                       "size": size, "folder": folder}),
                           {"x-api-key": key, "Content-Type": "application/json"})
    assert status == 200, body
    ticket = json.loads(body)
    status, body = request(ticket["uploadUrl"], "PUT", data, {"Content-Type": "application/octet-stream"})
    assert status == 200, body
    while True:
        status, body = request(f"{base}/v2/media/file?path={folder}/u{i}.bin", "GET", headers={"x-api-key": key})
        if json.loads(body)["file"]["status"] == "uploaded":
            break
        time.sleep(0.02)
    return (time.perf_counter() - start) * 1000


t0 = time.perf_counter()
with concurrent.futures.ThreadPoolExecutor(conc) as pool:
    latencies = sorted(pool.map(upload, range(n)))
elapsed = time.perf_counter() - t0
p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
print(f"uploads: n={n} size={size} concurrency={conc}: {n / elapsed:.1f} files/s, "
      f"p50={p(0.5):.1f} ms p99={p(0.99):.1f} ms (request to confirmed)")
