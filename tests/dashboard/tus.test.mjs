// tus-js-client, the tus project's browser client, in Chromium on a web page of another origin
// than the server (as a customer's web app would be): let through by CORS, it uploads, is cut off,
// and resumes where it stopped.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import { launch, newPage, startServer } from "./harness.mjs";

const CLIENT = path.join(path.dirname(fileURLToPath(import.meta.url)), "node_modules/tus-js-client/dist/tus.min.js");
const MIB = 1024 * 1024;
const SIZE = 3 * MIB + 4321;

let browser;
let server;
let app;

/** The web app: a page that loads tus-js-client, on a port of its own. */
function startApp() {
  const client = readFileSync(CLIENT);
  const site = http.createServer((req, res) => {
    if (req.url === "/tus.min.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      res.end(client);
    } else {
      res.writeHead(200, { "content-type": "text/html" });
      res.end('<!doctype html><title>app</title><script src="/tus.min.js"></script>');
    }
  });
  return new Promise((resolve) => site.listen(0, "127.0.0.1", () => resolve(site)));
}

before(async () => {
  browser = await launch();
  server = await startServer();
  app = await startApp();
});
after(async () => {
  await browser?.close();
  await server?.stop();
  app?.close();
});

/** The bytes the page uploads, made the same way here to compare with what the server serves. */
function content() {
  const bytes = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i++) bytes[i] = (i * 7 + (i >> 11)) % 251;
  return bytes;
}

test("tus-js-client uploads from another origin, is cut off after a chunk and resumes", async () => {
  const page = await newPage(browser, server);
  await page.goto(`http://127.0.0.1:${app.address().port}/`);

  const options = { endpoint: `${server.base}/tus/`, key: server.key, size: SIZE, mib: MIB };
  const first = await page.evaluate(async ({ endpoint, key, size, mib }) => {
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 11)) % 251;
    window.file = new Blob([bytes], { type: "video/mp4" });
    window.tusOptions = {
      endpoint,
      headers: { "x-api-key": key },
      chunkSize: mib,
      metadata: { filename: "browser take.mp4", filetype: "video/mp4", folder: "from-browser" },
      retryDelays: null,
    };
    return new Promise((resolve, reject) => {
      const upload = new tus.Upload(window.file, {
        ...window.tusOptions,
        onError: reject,
        onSuccess: () => reject(new Error("the upload was meant to be cut off")),
        onChunkComplete: (_chunk, accepted) => {
          // The tab goes away after the first chunk, as a closed laptop would take it.
          upload.abort().then(() => resolve({ url: upload.url, accepted }));
        },
      });
      upload.start();
    });
  }, options);
  assert.equal(first.accepted, MIB);
  assert.ok(first.url.startsWith(`${server.base}/tus/`), first.url);

  const head = await fetch(first.url, { method: "HEAD", headers: { "x-api-key": server.key, "tus-resumable": "1.0.0" } });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("upload-offset"), String(MIB));

  const resumed = await page.evaluate(
    async (url) =>
      new Promise((resolve, reject) => {
        const sent = [];
        const upload = new tus.Upload(window.file, {
          ...window.tusOptions,
          uploadUrl: url,
          onError: reject,
          onChunkComplete: (chunk, accepted) => sent.push([chunk, accepted]),
          onSuccess: () => resolve(sent),
        });
        upload.start();
      }),
    first.url,
  );
  // Only what the server lacked went out again, from the offset it reported.
  assert.deepEqual(resumed, [
    [MIB, 2 * MIB],
    [MIB, 3 * MIB],
    [4321, SIZE],
  ]);
  assert.deepEqual(page.problems, []);

  const served = await fetch(`${server.base}/acme/files/from-browser/browser_take.mp4`);
  assert.equal(served.status, 200);
  const got = Buffer.from(await served.arrayBuffer());
  assert.equal(got.length, SIZE);
  const digest = (b) => createHash("sha256").update(b).digest("hex");
  assert.equal(digest(got), digest(content()));
  const file = await server.api("GET", "/v2/media/file?path=from-browser/browser_take.mp4");
  assert.equal(file.file.status, "uploaded");
  await page.context().close();
});
