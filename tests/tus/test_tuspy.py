"""tuspy (the tus project's Python client, from PyPI) against mediadrive's /tus/.

It uploads part of a file in 1 MiB pieces with sha1 checksums, the server is killed and started
again on the same data, and a new uploader finds the upload through its URL store, resumes at the
offset the server kept and finishes it; the file is then served from the drive with its bytes.
"""

import os
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from tusclient.client import TusClient
from tusclient.storage.filestorage import FileStorage

BIN = os.environ["MEDIADRIVE_BIN"]
MIB = 1024 * 1024


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


class TuspyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.data = os.path.join(self.tmp.name, "data")
        self.backends = backend_args()
        self.server, self.base = serve(self.data, "127.0.0.1:0", *self.backends)
        self.key = subprocess.run(
            [BIN, "key", "create", "--client", "acme", "--role", "render",
             "--data-dir", self.data, *self.backends],
            check=True, capture_output=True, text=True).stdout.strip()

    def restart(self):
        """Kills the server and starts it again on the same data, at the address its upload URLs
        name. That port was this server's a moment ago; if anything else took it meanwhile, the
        start fails rather than another server answering."""
        self.server.kill()
        self.server.wait()
        listen = self.base[len("http://"):]
        self.server, base = serve(self.data, listen, *self.backends)
        self.assertEqual(base, self.base)

    def tearDown(self):
        self.server.kill()
        self.server.wait()
        self.tmp.cleanup()

    def uploader(self, path, storage):
        client = TusClient(self.base + "/tus/", headers={"x-api-key": self.key})
        return client.uploader(
            path, chunk_size=MIB, store_url=True, url_storage=storage, upload_checksum=True,
            metadata={"filename": "take.bin", "filetype": "application/octet-stream",
                      "folder": "tuspy"})

    def test_upload_resumes_after_the_server_restarts(self):
        content = os.urandom(5 * MIB + 4321)
        path = os.path.join(self.tmp.name, "take.bin")
        with open(path, "wb") as f:
            f.write(content)
        storage = FileStorage(os.path.join(self.tmp.name, "urls.json"))

        first = self.uploader(path, storage)
        first.upload(stop_at=2 * MIB)
        self.assertEqual(first.offset, 2 * MIB)
        url = first.url
        self.assertTrue(url.startswith(self.base + "/tus/"), url)

        self.restart()

        resumed = self.uploader(path, storage)
        self.assertEqual(resumed.url, url, "found through the URL store")
        self.assertEqual(resumed.offset, 2 * MIB, "the server kept what it acknowledged")
        resumed.upload()
        self.assertEqual(resumed.offset, len(content))

        with urllib.request.urlopen(self.base + "/acme/files/tuspy/take.bin") as resp:
            self.assertEqual(resp.read(), content)


if __name__ == "__main__":
    unittest.main()
