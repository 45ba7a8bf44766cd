"""Shotstack's official SDK (`shotstack-sdk` from PyPI) against mediadrive's /serve/v1.

A render's outputs are handed over through /v2/renders (two by URL, one by upload); the SDK polls
/assets/render/{id} until every asset is ready, fetches each URL, deletes one and sees it deleted,
and transfers a file from a URL into hosting.
"""

import functools
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid

import shotstack_sdk
from shotstack_sdk.api import serve_api
from shotstack_sdk.model.shotstack_destination import ShotstackDestination
from shotstack_sdk.model.transfer import Transfer

# The shared start-up of every Python suite lives beside the suites' folders.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from mediadrive_server import BIN, backend_args, serve  # noqa: E402


def ffmpeg(out, *args):
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args, out], check=True)
    with open(out, "rb") as f:
        return f.read()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class ServeSdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        media = os.path.join(cls.tmp.name, "media")
        os.mkdir(media)
        cls.video = ffmpeg(os.path.join(media, "clip.mp4"), "-f", "lavfi", "-i",
                           "testsrc2=size=320x240:rate=25:duration=1", "-c:v", "libx264",
                           "-preset", "ultrafast", "-pix_fmt", "yuv420p")
        cls.thumb = ffmpeg(os.path.join(media, "thumb.jpg"), "-f", "lavfi", "-i",
                           "testsrc2=size=160x120", "-frames:v", "1")
        cls.poster = ffmpeg(os.path.join(media, "poster.png"), "-f", "lavfi", "-i",
                            "testsrc2=size=320x240", "-frames:v", "1")
        handler = functools.partial(Quiet, directory=media)
        cls.files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=cls.files.serve_forever, daemon=True).start()
        cls.files_base = "http://127.0.0.1:%d" % cls.files.server_address[1]

        data = os.path.join(cls.tmp.name, "data")
        backends = backend_args()
        cls.server, cls.base = serve(data, "127.0.0.1:0", "--fetch-allow", "127.0.0.0/8", *backends)
        cls.key = subprocess.run(
            [BIN, "key", "create", "--client", "acme", "--role", "editor", "--data-dir", data,
             *backends],
            check=True, capture_output=True, text=True).stdout.strip()

        configuration = shotstack_sdk.Configuration(host=cls.base + "/serve/v1")
        configuration.api_key["DeveloperKey"] = cls.key
        cls.client = shotstack_sdk.ApiClient(configuration)
        cls.api = serve_api.ServeApi(cls.client)

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        cls.server.wait()
        cls.files.shutdown()
        cls.tmp.cleanup()

    def request(self, method, path, body=None, data=None):
        headers = {"x-api-key": self.key}
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        req = urllib.request.Request(self.base + path if path.startswith("/") else path,
                                     data=data, method=method, headers=headers)
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read())

    def fetch(self, url):
        with urllib.request.urlopen(url) as resp:
            return resp.read()

    def poll(self, call, done):
        for _ in range(400):
            answer = call()
            if done(answer):
                return answer
            time.sleep(0.05)
        self.fail("still not done: %s" % answer)

    def test_render_assets_are_hosted_fetched_and_deleted_through_the_sdk(self):
        render = self.request("POST", "/v2/renders", {"outputs": [
            {"type": "video", "src": self.files_base + "/clip.mp4"},
            {"type": "thumbnail", "src": self.files_base + "/thumb.jpg"},
            {"type": "poster"},
        ]})
        render_id = render["id"]
        poster = next(o for o in render["outputs"] if o["type"] == "poster")
        self.request("PUT", poster["upload_url"], data=self.poster)

        response = self.poll(
            lambda: self.api.get_asset_by_render_id(render_id),
            lambda r: len(r.data) == 3 and all(a.attributes.status == "ready" for a in r.data))
        expected = {render_id + ".mp4": self.video, render_id + "-thumb.jpg": self.thumb,
                    render_id + "-poster.png": self.poster}
        for asset in response.data:
            self.assertEqual(asset.type, "asset")
            attributes = asset.attributes
            self.assertEqual(attributes.owner, "acme")
            self.assertEqual(attributes.render_id, render_id)
            uuid.UUID(attributes.id)
            self.assertEqual(self.fetch(attributes.url), expected[attributes.filename])

        poster_asset = next(a for a in response.data if a.attributes.filename.endswith(".png"))
        hosted_url = poster_asset.attributes.url
        self.assertIsNone(self.api.delete_asset(poster_asset.attributes.id))
        deleted = self.api.get_asset(poster_asset.attributes.id)
        self.assertEqual(deleted.data.attributes.status, "deleted")
        with self.assertRaises(urllib.error.HTTPError) as gone:
            self.fetch(hosted_url)
        self.assertEqual(gone.exception.code, 404)
        statuses = sorted(a.attributes.status
                          for a in self.api.get_asset_by_render_id(render_id).data)
        self.assertEqual(statuses, ["deleted", "ready", "ready"])

    def test_a_transfer_brings_a_file_into_hosting(self):
        transfer = Transfer(url=self.files_base + "/poster.png", id="brand-poster",
                            destinations=[ShotstackDestination(provider="shotstack")])
        queued = self.api.post_serve_asset(transfer)
        self.assertEqual(queued.data.attributes.status, "queued")
        asset = self.poll(lambda: self.api.get_asset(queued.data.attributes.id),
                          lambda a: a.data.attributes.status != "importing")
        self.assertEqual(asset.data.attributes.status, "ready")
        self.assertEqual(asset.data.attributes.filename, "brand-poster.png")
        self.assertEqual(self.fetch(asset.data.attributes.url), self.poster)

    def test_unknown_assets_are_not_found(self):
        with self.assertRaises(shotstack_sdk.exceptions.NotFoundException):
            self.api.get_asset(str(uuid.uuid4()))
        with self.assertRaises(shotstack_sdk.exceptions.NotFoundException):
            self.api.get_asset_by_render_id(str(uuid.uuid4()))


if __name__ == "__main__":
    unittest.main()
