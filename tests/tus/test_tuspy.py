"""tuspy (the tus project's Python client, from PyPI) against mediadrive's /tus/.

It uploads part of a file in 1 MiB pieces with sha1 checksums, the server is killed and started
again on the same data, and a new uploader finds the upload through its URL store, resumes at the
offset the server kept and finishes it; the file is then served from the drive with its bytes.
"""

import os
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

from tusclient.client import TusClient
from tusclient.storage.filestorage import FileStorage

BIN = os.environ["MEDIADRIVE_BIN"]
MIB = 1024 * 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TuspyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.data = os.path.join(self.tmp.name, "data")
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.server = None
        self.start()
        self.key = subprocess.run(
            [BIN, "key", "create", "--client", "acme", "--role", "render",
             "--data-dir", self.data],
            check=True, capture_output=True, text=True).stdout.strip()

    def start(self):
        self.server = subprocess.Popen(
            [BIN, "serve", "--data-dir", self.data, "--listen", "127.0.0.1:%d" % self.port],
            env={**os.environ, "RUST_LOG": "warn"}, stdout=subprocess.DEVNULL)
        for _ in range(400):
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.025)
        raise RuntimeError("mediadrive did not start")

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

        self.server.kill()
        self.server.wait()
        self.start()

        resumed = self.uploader(path, storage)
        self.assertEqual(resumed.url, url, "found through the URL store")
        self.assertEqual(resumed.offset, 2 * MIB, "the server kept what it acknowledged")
        resumed.upload()
        self.assertEqual(resumed.offset, len(content))

        with urllib.request.urlopen(self.base + "/acme/files/tuspy/take.bin") as resp:
            self.assertEqual(resp.read(), content)


if __name__ == "__main__":
    unittest.main()
