#!/usr/bin/env python3
"""Latency of one listing page: p50/p99 over sequential keep-alive requests.

usage: list_latency.py BASE_URL API_KEY FOLDER REQUESTS [WALK_PAGE]
Half the requests ask for the first page, half for pages deep in the folder (via cursors collected
first by walking the folder WALK_PAGE files at a time, default 1000).
"""
import http.client
import json
import random
import sys
import time
import urllib.parse

base, key, folder, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
walk = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port)


def get(path):
    conn.request("GET", path, headers={"x-api-key": key})
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        sys.exit(f"{path}: {resp.status} {body[:200]!r}")
    return json.loads(body)


# Collect cursors spread through the folder by walking it with big pages.
cursors, cursor = [], None
while True:
    q = f"/v2/media/folder?folder={folder}&sort=name&limit={walk}" + (f"&cursor={cursor}" if cursor else "")
    page = get(q)
    cursor = page["next_cursor"]
    if not cursor:
        break
    cursors.append(cursor)

samples = {"first page": [], "deep page": []}
for i in range(n):
    if i % 2 == 0:
        kind, path = "first page", f"/v2/media/folder?folder={folder}&limit=100"
    else:
        kind = "deep page"
        path = f"/v2/media/folder?folder={folder}&sort=name&limit=100&cursor={random.choice(cursors)}"
    t = time.perf_counter()
    page = get(path)
    samples[kind].append((time.perf_counter() - t) * 1000)
    assert page["files"], path

for kind, xs in samples.items():
    xs.sort()
    p = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]
    print(f"{kind}: n={len(xs)} p50={p(0.5):.2f} ms p99={p(0.99):.2f} ms max={xs[-1]:.2f} ms")
