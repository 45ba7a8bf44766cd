"""Video Jungle's official client (`videojungle` from PyPI) against mediadrive's /videojungle.

The client creates a project, uploads assets through the link the project hands out, lists, gets,
checks and downloads them, and deletes them and the project; it saves a script and runs it into
generated assets; every answer must parse into the
client's own models. The signed links and the keyname work without an API key. An asset of 100 MB
goes up and comes back whole.

The backends follow MEDIADRIVE_TEST_BACKEND as the end-to-end suite's do (`postgres+s3`: a new
database on MEDIADRIVE_TEST_POSTGRES_URL's cluster and a new prefix of MEDIADRIVE_TEST_S3_URL's
bucket, as scripts/test starts them).
"""

import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import requests
from videojungle import ApiClient

# The shared start-up of every Python suite lives beside the suites' folders.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from mediadrive_server import BIN, backend_args, serve  # noqa: E402


MB = 1000 * 1000


def sha256_of_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


class VideoJungleClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.clip = os.path.join(cls.tmp.name, "clip.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
                        "testsrc2=size=320x240:rate=25:duration=1", "-c:v", "libx264",
                        "-preset", "ultrafast", "-pix_fmt", "yuv420p", cls.clip], check=True)
        with open(cls.clip, "rb") as f:
            cls.clip_bytes = f.read()
        data = os.path.join(cls.tmp.name, "data")
        backends = backend_args()
        cls.server, cls.base = serve(data, "127.0.0.1:0", *backends)

        def key(client, role):
            return subprocess.run(
                [BIN, "key", "create", "--client", client, "--role", role, "--data-dir", data]
                + backends,
                check=True, capture_output=True, text=True).stdout.strip()

        cls.client = ApiClient(key("acme", "editor"))
        cls.client.BASE_URL = cls.base + "/videojungle"
        cls.other = ApiClient(key("globex", "editor"))
        cls.other.BASE_URL = cls.base + "/videojungle"

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        cls.server.wait()
        cls.tmp.cleanup()

    def fetch(self, url):
        with urllib.request.urlopen(url) as resp:
            return resp.status, resp.headers, resp.read()

    def status_of(self, call):
        with self.assertRaises(requests.exceptions.HTTPError) as caught:
            call()
        return caught.exception.response

    def test_a_project_and_its_assets_round_trip_through_the_client(self):
        project = self.client.projects.create("horoscope", "Daily readings")
        self.assertEqual(project.name, "horoscope")
        self.assertEqual(project.description, "Daily readings")
        self.assertEqual(project.data, "prompt-to-video")
        self.assertEqual(project.owner_id, "acme")
        self.assertEqual(project.asset_count, 0)
        self.assertIn(project.id, [p.id for p in self.client.projects.list()])

        asset = self.client.assets.upload_asset(
            name="intro", description="the opening", project_id=project.id, filename=self.clip)
        self.assertTrue(asset.uploaded)
        self.assertIsNone(asset.status)
        self.assertEqual(asset.asset_type, "user")
        self.assertEqual(asset.description, "the opening")
        self.assertTrue(asset.asset_path.endswith("/intro.mp4"), asset.asset_path)
        self.assertNotEqual(asset.keyname, "intro")

        # The project's own upload, which refreshes the project from the server afterwards.
        second = project.upload_asset(name="outro", description="", filename=self.clip)
        self.assertTrue(second.uploaded)
        self.assertEqual(project.asset_count, 2)
        self.assertEqual({a.id for a in project.assets}, {asset.id, second.id})

        listed = self.client.assets.list_for_project(project.id)
        self.assertEqual([a.id for a in listed], [second.id, asset.id])
        self.assertEqual(self.client.assets.list_generated_for_project(project.id), [])
        got = self.client.assets.get(asset.id)
        self.assertEqual((got.id, got.keyname, got.uploaded), (asset.id, asset.keyname, True))
        self.assertEqual(self.client.assets.check(asset.id), {"uploaded": True})
        self.assertEqual(self.client.assets.status(asset.id)["uploaded"], True)

        out = os.path.join(self.tmp.name, "downloaded.mp4")
        self.assertEqual(self.client.assets.download(asset.id, out), out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.clip_bytes)

        # Both links work without an API key; the download one is an attachment.
        status, headers, body = self.fetch(got.url)
        self.assertEqual((status, body), (200, self.clip_bytes))
        self.assertEqual(headers["Content-Type"], "video/mp4")
        self.assertNotIn("Content-Disposition", headers)
        _, headers, _ = self.fetch(got.download_url)
        self.assertEqual(headers["Content-Disposition"], 'attachment; filename="intro.mp4"')
        # So does the keyname, and it shows the asset's project.
        _, _, body = self.fetch(self.base + "/videojungle/assets/key/" + asset.keyname)
        self.assertEqual(json.loads(body)["project"]["id"], project.id)

        # Another tenant sees none of it.
        self.assertEqual(self.status_of(lambda: self.other.assets.get(asset.id)).status_code, 404)
        response = self.status_of(lambda: self.other.projects.get(project.id))
        self.assertEqual(response.json(), {"detail": "Project not found"})

        self.client.assets.delete(asset.id)
        self.assertEqual(self.status_of(lambda: self.client.assets.get(asset.id)).status_code, 404)
        with self.assertRaises(urllib.error.HTTPError) as gone:
            self.fetch(got.url)
        self.assertEqual(gone.exception.code, 404)
        self.assertEqual([a.id for a in self.client.assets.list_for_project(project.id)],
                         [second.id])

        self.client.projects.delete(project.id)
        self.assertNotIn(project.id, [p.id for p in self.client.projects.list()])
        self.assertEqual(self.status_of(lambda: self.client.assets.get(second.id)).status_code,
                         404)

    def test_a_100_mb_asset_goes_up_and_comes_back_whole(self):
        # Seeded bytes that do not repeat, so a piece lost, doubled or moved shows in the hash.
        big = os.path.join(self.tmp.name, "big.bin")
        with open(big, "wb") as f:
            f.write(random.Random(100).randbytes(100 * MB))
        project = self.client.projects.create("big", "a long take")
        started = time.monotonic()
        asset = self.client.assets.upload_asset(
            name="long-take", description="", project_id=project.id, filename=big)
        print("\n100 MB asset uploaded in %.1f s" % (time.monotonic() - started))
        self.assertTrue(asset.uploaded)
        self.assertTrue(asset.asset_path.endswith("/long-take"), asset.asset_path)
        out = os.path.join(self.tmp.name, "big-downloaded.bin")
        self.assertEqual(self.client.assets.download(asset.id, out), out)
        self.assertEqual(os.path.getsize(out), 100 * MB)
        self.assertEqual(sha256_of_file(out), sha256_of_file(big))
        self.client.projects.delete(project.id)

    def test_a_tampered_link_is_refused(self):
        project = self.client.projects.create("links", "")
        asset = self.client.assets.upload_asset(
            name="clip", description="", project_id=project.id, filename=self.clip)
        parts = urllib.parse.urlsplit(asset.url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        query["expires"] = str(int(query["expires"]) + 60)
        forged = parts._replace(query=urllib.parse.urlencode(query)).geturl()
        with self.assertRaises(urllib.error.HTTPError) as refused:
            self.fetch(forged)
        self.assertEqual(refused.exception.code, 403)
        self.assertEqual(json.loads(refused.exception.read()),
                         {"detail": "Signature does not match"})
        self.client.projects.delete(project.id)

    def test_a_script_generates_assets_through_the_client(self):
        # Every configured generator is offered as a template to start a script from.
        options = {o.key: o for o in self.client.scripts.list_options()}
        self.assertEqual(options["local-image"].template,
                         {"type": "image", "model": "local-image", "prompt": "{{prompt}}"})
        project = self.client.projects.create("cards", "generated")
        script = self.client.scripts.create(
            project.id, "card",
            {"type": "image", "model": "local-image", "prompt": "a {{subject}} at dawn",
             "width": "{{width}}", "height": 64},
            {"subject": {"type": "string", "description": "what to draw"},
             "width": {"type": "integer", "default": 64}})
        self.assertEqual(script.project_id, project.id)
        self.assertEqual([i["name"] for i in script.inputs], ["subject", "width"])
        self.assertEqual([s.id for s in self.client.scripts.list(project.id)], [script.id])
        self.assertEqual(self.client.scripts.get(project.id, script.id).value["prompt"],
                         "a {{subject}} at dawn")
        self.assertEqual([s.id for s in self.client.projects.get(project.id).scripts],
                         [script.id])

        answer = self.client.projects.generate(project.id, script.id, {"subject": "red fox"})
        self.assertEqual(set(answer), {"url", "asset_id", "asset_key"})
        out = os.path.join(self.tmp.name, "card.webp")
        self.client.assets.download(answer["asset_id"], out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(4), b"RIFF")
        asset = self.client.assets.get(answer["asset_id"])
        self.assertEqual((asset.keyname, asset.asset_type), (answer["asset_key"], "image"))
        self.assertEqual(asset.create_parameters, {"subject": "red fox", "width": 64})
        self.assertTrue(asset.asset_path.startswith("generated/image/"), asset.asset_path)
        generated = self.client.assets.list_generated_for_project(project.id)
        self.assertEqual([a.id for a in generated], [asset.id])

        # A prompt of one's own, with the script's parameters as keyword arguments.
        custom = self.client.projects.generate_with_custom_prompt(
            project.id, script.id, prompt="a {{subject}} in the rain", subject="owl", width=80)
        self.client.assets.download(custom["asset_id"], out)
        custom_asset = self.client.assets.get(custom["asset_id"])
        self.assertEqual(custom_asset.create_parameters["prompt"], "a {{subject}} in the rain")

        # A parameter the script lacks is named in FastAPI's shape.
        response = self.status_of(
            lambda: self.client.projects.generate(project.id, script.id, {"colour": "red"}))
        self.assertEqual(response.status_code, 422)
        self.assertEqual(sorted(tuple(d["loc"]) for d in response.json()["detail"]),
                         [("query", "colour"), ("query", "subject")])

        self.client.scripts.delete(project.id, script.id)
        self.assertEqual(self.client.scripts.list(project.id), [])
        self.assertTrue(self.client.assets.get(asset.id).uploaded)
        self.client.projects.delete(project.id)
        self.assertEqual(self.status_of(lambda: self.client.assets.get(asset.id)).status_code,
                         404)


if __name__ == "__main__":
    unittest.main()
