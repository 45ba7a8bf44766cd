"""Starts `mediadrive serve` for the Python suites of real clients (Shotstack's SDK, Video Jungle's
client, tuspy), on the backends MEDIADRIVE_TEST_BACKEND names, as the end-to-end suite does."""

import os
import subprocess
import threading
import time
import urllib.request

BIN = os.environ["MEDIADRIVE_BIN"]


def backend_args():
    """The flags that put the server (and the CLI) on the backends under test, as
    MEDIADRIVE_TEST_BACKEND names them (`postgres+s3`: a new database on
    MEDIADRIVE_TEST_POSTGRES_URL's cluster and a new prefix of MEDIADRIVE_TEST_S3_URL's bucket, as
    scripts/test starts them)."""
    args = []
    unique = "md_py_%d_%d" % (os.getpid(), time.time_ns())
    for part in filter(None, os.environ.get("MEDIADRIVE_TEST_BACKEND", "").split("+")):
        if part in ("sqlite", "fs"):
            continue
        if part == "postgres":
            admin = os.environ["MEDIADRIVE_TEST_POSTGRES_URL"]
            subprocess.run(["psql", admin, "-qc", "CREATE DATABASE %s" % unique], check=True)
            args += ["--database-url", admin.rsplit("/", 1)[0] + "/" + unique]
        elif part == "s3":
            url = os.environ["MEDIADRIVE_TEST_S3_URL"]
            args += ["--blob-url", "%s&root=/%s/" % (url, unique)]
        else:
            raise RuntimeError("unknown backend %r in MEDIADRIVE_TEST_BACKEND" % part)
    return args


def serve(data, listen, *flags):
    """Starts `mediadrive serve` on `listen` and returns it with its base URL, read from the
    `listening on URL` line it prints first (with port 0 it picks a free port itself, so no other
    test's server can be the one answering)."""
    server = subprocess.Popen(
        [BIN, "serve", "--data-dir", data, "--listen", listen, *flags],
        env={**os.environ, "RUST_LOG": "warn"}, stdout=subprocess.PIPE, text=True)
    ready = server.stdout.readline().strip()
    if not ready.startswith("listening on "):
        server.kill()
        server.wait()
        raise RuntimeError("mediadrive did not say where it listens: %r" % ready)
    base = ready[len("listening on "):]
    # The rest of its output is drained, so it never writes into a full pipe.
    threading.Thread(target=server.stdout.read, daemon=True).start()
    for _ in range(400):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            return server, base
        except OSError:
            time.sleep(0.025)
    server.kill()
    server.wait()
    raise RuntimeError("mediadrive did not start")
