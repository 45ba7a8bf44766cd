"""tuspy (the tus project's Python client, from PyPI) against mediadrive's /tus/.

It uploads part of a file in 1 MiB pieces with sha1 checksums, the server is killed and started
again on the same data, and a new uploader finds the upload through its URL store, resumes at the
offset the server kept and finishes it; the file is then served from the drive with its bytes.
"""

import os
import subprocess
import sys
import tempfile
import unittest
import urllib.request

from tusclient.client import TusClient
from tusclient.storage.filestorage import FileStorage

# The shared start-up of every Python suite lives beside the suites' folders.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from mediadrive_server import BIN, backend_args, serve  # noqa: E402

MIB = 1024 * 1024


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
