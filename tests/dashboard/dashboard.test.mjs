// The dashboard in a real browser against a real server: every flow of seed 001's media panel.

import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, test as nodeTest } from "node:test";

import { dropFiles, launch, media, newPage, settled, shot, signIn, sleep, startServer } from "./harness.mjs";

let browser;
let server;
let page;
const files = media();

before(async () => {
  browser = await launch();
});
after(async () => {
  await browser.close();
});
beforeEach(async () => {
  server = await startServer();
});
afterEach(async () => {
  const problems = page ? page.problems.filter((p) => !page.allowed?.some((a) => p.includes(a))) : [];
  await page?.context().close();
  page = null;
  await server.stop();
  assert.deepEqual(problems, [], "the page logged errors");
});

/** A test that leaves a screenshot of the page as it was when it failed. */
function test(name, body) {
  nodeTest(name, async (t) => {
    try {
      await body(t);
    } catch (e) {
      if (page) await shot(page, `FAILED-${name.replace(/[^a-z0-9]+/gi, "-")}`).catch(() => {});
      throw e;
    }
  });
}

const names = () =>
  page.$$eval("#listing .tile.file > .name, #listing tr.file td.name > button", (ns) => ns.map((n) => n.textContent.trim()));

async function uploadAll() {
  await dropFiles(page, "#drive", files);
  await page.waitForFunction(() => document.querySelectorAll("#uploads .upload.done").length === 3);
  await page.waitForFunction(() => document.querySelectorAll("#listing .tile.file").length === 3);
}

async function openMenu(fileName, action) {
  await page.click(`[data-path$="${fileName}"] .menu summary`);
  await page.click(`[data-path$="${fileName}"] .menu-items button:text-is("${action}")`);
}

test("sign in, storage in the header, nested folders and breadcrumbs", async () => {
  page = await newPage(browser, server);
  await page.goto(`${server.base}/dashboard/`);
  await page.fill("#key", "not-a-key");
  await page.click("#sign-in button[type=submit]");
  await page.waitForSelector("#sign-in-error:text('Invalid API key')");
  page.allowed = ["401 (Unauthorized)"];
  await signIn(page, server);
  assert.equal(await page.textContent("#client"), "acme");
  assert.equal(await page.textContent("#role"), "admin");
  assert.match(await page.textContent("#usage-text"), /^0 B of 10\.0 GB$/);
  // The key lives in this tab's session storage only: the form forgets it, the page never shows it.
  assert.equal(await page.evaluate(() => sessionStorage.getItem("mediadrive.key")), server.key);
  assert.equal(await page.inputValue("#key"), "");
  assert.ok(!(await page.evaluate(() => document.body.innerText)).includes(server.key));

  // Enter in the dialog's field creates the folder (and does not press Cancel).
  for (const name of ["campaigns", "2026"]) {
    await page.click("#new-folder");
    await page.fill("#ask-input", name);
    await page.press("#ask-input", "Enter");
    await page.click(`.tile.folder:has-text("${name}")`);
  }
  await page.waitForFunction(() => document.querySelectorAll("#crumbs button").length === 3);
  const crumbs = await page.$$eval("#crumbs button", (bs) => bs.map((b) => b.textContent));
  assert.deepEqual(crumbs, ["Media", "campaigns", "2026"]);
  await shot(page, "01-nested-folders");
  await page.click('#crumbs button:text-is("campaigns")');
  await page.waitForSelector('.tile.folder:has-text("2026")');
  await page.click('#crumbs button:text-is("Media")');
  await page.waitForSelector('.tile.folder:has-text("campaigns")');
  const tree = await server.api("GET", "/v2/media/folder?tree=true");
  assert.deepEqual(tree.folders.map((f) => f.path).filter(Boolean).sort(), ["campaigns", "campaigns/2026"]);

  // Reloading keeps the session; signing out forgets the key.
  await page.reload();
  await page.waitForSelector("#drive:not([hidden])");
  await page.click("#sign-out");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("mediadrive.key")), null);
});

test("three dropped files upload with progress bars, then views and sort orders switch", async () => {
  page = await newPage(browser, server);
  await signIn(page, server);
  // Uploads slowed to 256 KB/s, so the bars are seen moving.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 256 * 1024,
  });
  await dropFiles(page, "#drive", files);
  await page.waitForFunction(() => [...document.querySelectorAll("#uploads progress")].some((p) => p.value > 0 && p.value < 100));
  await shot(page, "02-uploading");
  await page.waitForFunction(() => document.querySelectorAll("#uploads .upload.done").length === 3, null, { timeout: 60000 });
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.waitForFunction(() => document.querySelectorAll("#listing .tile.file").length === 3);
  const bars = await page.$$eval("#uploads progress", (ps) => ps.map((p) => p.value));
  assert.deepEqual(bars, [100, 100, 100]);
  await page.waitForFunction(() => /KB of 10\.0 GB/.test(document.querySelector("#usage-text").textContent));
  await settled(server);
  await shot(page, "02-uploaded-grid");

  // The whole order is waited for: by date the listing may already start with the first name.
  const tilesRead = (want) => page.waitForFunction(
    (want) => [...document.querySelectorAll("#listing .tile.file > .name")].map((n) => n.textContent.trim()).join() === want,
    want.join(),
  );
  await page.selectOption("#sort", "name");
  await tilesRead(["clip.mp4", "sunrise.png", "tone.wav"]);
  await page.click("#order");
  await tilesRead(["tone.wav", "sunrise.png", "clip.mp4"]);

  await page.click("#view-list");
  await page.waitForSelector("#listing table");
  const header = await page.$$eval("#listing th", (ths) => ths.map((t) => t.textContent));
  assert.deepEqual(header.slice(0, 4), ["Name", "Size", "Type", "Modified"]);
  assert.deepEqual(await names(), ["tone.wav", "sunrise.png", "clip.mp4"]);
  await page.click("#listing tr.file:has-text('sunrise.png') td:nth-child(2)");
  assert.equal(await page.textContent("#selection-count"), "1 selected");
  await page.click("#clear-selection");
  await page.selectOption("#sort", "date");
  const byDate = (await server.api("GET", "/v2/media/folder?sort=date&order=desc")).files.map((f) => f.name);
  await page.waitForFunction((want) => [...document.querySelectorAll("#listing tr.file td.name > button")].map((b) => b.textContent).join() === want.join(), byDate);
  await page.fill("#filter", "sun");
  assert.deepEqual(await names(), ["sunrise.png"]);
  await shot(page, "03-list-filtered");
  await page.fill("#filter", "");
  await page.click("#view-grid");
  await page.waitForSelector("#listing .tile.file img.thumb");
});

test("previews an image, a video and an audio file with its waveform; copies the URL", async () => {
  page = await newPage(browser, server);
  await signIn(page, server);
  await uploadAll();
  await settled(server);
  await page.reload();
  await page.waitForSelector("#listing .tile.file");

  // Keyboard: a tile is reachable and Enter opens it.
  await page.focus('[data-path="sunrise.png"]');
  await page.keyboard.press("Enter");
  await page.waitForSelector("#preview[open] #preview-media img");
  await page.waitForFunction(() => document.querySelector("#preview-media img").naturalWidth === 640);
  const meta = await page.textContent("#preview-meta");
  assert.match(meta, /640 × 480/);
  assert.match(meta, /image\/png/);
  await shot(page, "04-preview-image");
  await page.click("#copy-url");
  await page.waitForSelector("#copy-status:text('URL copied')");
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, `${server.base}/acme/files/sunrise.png`);
  const fetched = await fetch(copied);
  assert.equal(fetched.status, 200);
  assert.deepEqual(Buffer.from(await fetched.arrayBuffer()), files["sunrise.png"].bytes);
  assert.equal(await page.getAttribute("#download", "href"), `${server.base}/acme/files/sunrise.png?download=1`);
  await page.keyboard.press("Escape");

  await page.click('[data-path="clip.mp4"]');
  await page.waitForFunction(() => {
    const v = document.querySelector("#preview-media video");
    return v && v.readyState >= 1 && Math.abs(v.duration - 2) < 0.1;
  });
  const videoMeta = await page.textContent("#preview-meta");
  assert.match(videoMeta, /320 × 240/);
  assert.match(videoMeta, /h264/);
  assert.match(videoMeta, /2\.0 s/);
  await shot(page, "05-preview-video");
  await page.keyboard.press("Escape");

  await page.click('[data-path="tone.wav"]');
  await page.waitForFunction(() => Number(document.querySelector("#preview-media canvas")?.dataset.drawn) > 0);
  await page.waitForFunction(() => document.querySelector("#preview-media audio").readyState >= 1);
  assert.match(await page.textContent("#preview-meta"), /44100 Hz|48000 Hz/);
  await shot(page, "06-preview-audio");
});

test("move by menu and by dragging onto a folder, rename, bulk delete with a confirmation", async () => {
  page = await newPage(browser, server);
  await signIn(page, server);
  await page.click("#new-folder");
  await page.fill("#ask-input", "archive");
  await page.click("#ask-ok");
  await page.waitForSelector('.tile.folder:has-text("archive")');
  await uploadAll();

  // A menu left open stays open, keyboard inside it, while the listing reloads under it (an upload
  // finishing here; a probe recheck does the same every 2 s after one).
  await page.click('[data-path$="tone.wav"] .menu summary');
  await page.focus('[data-path$="tone.wav"] .menu-items button:text-is("Rename")');
  await dropFiles(page, "#drive", { "notes.txt": { type: "text/plain", bytes: Buffer.from("shot list\n") } });
  await page.waitForFunction(() => document.querySelectorAll("#listing .tile.file").length === 4);
  assert.ok(await page.$eval('[data-path="tone.wav"] .menu', (m) => m.open && m.contains(document.activeElement)));
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Rename");
  await page.click('[data-path$="tone.wav"] .menu-items button:text-is("Move to folder")');
  await page.selectOption("#ask-select", "archive");
  await page.click("#ask-ok");
  await page.waitForFunction(() => !document.querySelector('[data-path="tone.wav"]'));

  await page.dragAndDrop('[data-path="clip.mp4"]', '.tile.folder:has-text("archive")');
  await page.waitForFunction(() => !document.querySelector('[data-path="clip.mp4"]'));

  await openMenu("sunrise.png", "Rename");
  await page.fill("#ask-input", "dawn.png");
  await page.click("#ask-ok");
  await page.waitForSelector('[data-path="dawn.png"]');

  await page.click('.tile.folder:has-text("archive")');
  await page.waitForSelector('[data-path="archive/clip.mp4"]');
  assert.deepEqual((await names()).sort(), ["clip.mp4", "tone.wav"]);
  await page.check('[data-path="archive/clip.mp4"] input[type=checkbox]');
  await page.check('[data-path="archive/tone.wav"] input[type=checkbox]');
  assert.equal(await page.textContent("#selection-count"), "2 selected");
  await shot(page, "07-selection");
  await page.click("#delete-selected");
  assert.equal(await page.textContent("#ask-text"), "Delete 2 files? Their URLs stop working at once.");
  await page.click("#ask-ok");
  await page.waitForSelector("#status:text('Deleted 2 files.')");
  // A probe recheck may reload the listing once more after the message.
  await page.waitForFunction(() => !document.querySelector("#listing .file"));
  assert.deepEqual(await names(), []);
  const gone = await fetch(`${server.base}/acme/files/archive/clip.mp4`);
  assert.equal(gone.status, 404);
  const kept = await fetch(`${server.base}/acme/files/dawn.png`);
  assert.equal(kept.status, 200);
});

test("an upload over the quota shows the seed's message", async () => {
  server.cli("client", "set", "--client", "acme", "--quota", "10000");
  page = await newPage(browser, server);
  page.allowed = ["403 (Forbidden)"];
  await signIn(page, server);
  assert.match(await page.textContent("#usage-text"), /of 9\.8 KB/);
  await dropFiles(page, "#drive", { "sunrise.png": files["sunrise.png"] });
  await page.waitForSelector("#uploads .upload.failed");
  assert.equal(
    await page.textContent("#uploads .upload.failed .error"),
    "Storage is blocked. Add credits to continue uploading.",
  );
  await shot(page, "08-over-quota");
  assert.deepEqual(await names(), []);
});

test("generated assets show the model and prompt they came from", async () => {
  const queued = await server.api("POST", "/v2/preloads", {
    preload: [{ id: "hero", type: "image", prompt: "a paper plane over a city", "save-to-media": true }],
  });
  let preload;
  for (let i = 0; i < 200 && preload?.status !== "done"; i++) {
    await sleep(50);
    preload = await server.api("GET", `/v2/preloads/${queued.id}`);
  }
  assert.equal(preload.items[0].status, "ready", JSON.stringify(preload));
  // An upload into generated/ is no generated asset.
  const ticket = await server.api("POST", "/v2/media/file", { name: "mine.png", contentType: "image/png", size: files["sunrise.png"].bytes.length, folder: "generated/image" });
  const put = await fetch(ticket.uploadUrl, { method: "PUT", headers: { "content-type": "image/png" }, body: files["sunrise.png"].bytes });
  assert.equal(put.status, 200);
  await settled(server, "generated/image");
  page = await newPage(browser, server);
  await signIn(page, server);
  await page.click('.tile.folder:has-text("generated")');
  await page.click('.tile.folder:has-text("image")');
  await page.waitForSelector('[data-path="generated/image/hero.webp"] .badge:text("generated · persistent")');
  assert.equal(await page.$('[data-path="generated/image/mine.png"] .badge'), null);
  await page.click('[data-path="generated/image/hero.webp"]');
  await page.waitForSelector("#preview-origin:not([hidden])");
  const origin = await page.textContent("#preview-origin");
  assert.match(origin, /image · local-image/);
  assert.match(origin, /a paper plane over a city/);
  assert.match(origin, /Persistent/);
  await shot(page, "09-generated-origin");
});

test("readable at phone width", async () => {
  page = await newPage(browser, server, { viewport: { width: 390, height: 844 } });
  await signIn(page, server);
  await uploadAll();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  await page.click("#view-list");
  await page.waitForSelector("#listing table");
  // The name column, the one that matters, is on screen without scrolling.
  const name = await page.$eval("#listing tr.file td.name", (td) => td.getBoundingClientRect().right);
  assert.ok(name <= 390, `the name column ends at ${name}px`);
  await shot(page, "10-phone");
});

test("the first load transfers under 200 KB", async () => {
  page = await newPage(browser, server);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  let transferred = 0;
  cdp.on("Network.loadingFinished", (e) => {
    transferred += e.encodedDataLength;
  });
  await page.goto(`${server.base}/dashboard/`, { waitUntil: "networkidle" });
  assert.ok(transferred > 0);
  assert.ok(transferred < 200 * 1024, `first load transferred ${transferred} bytes`);
  await shot(page, "11-first-load");
  console.log(`dashboard first load: ${transferred} bytes`);
});

test("a viewer key browses but is offered no upload, move, rename or delete", async () => {
  await server.api("POST", "/v2/media/folder", { folder: "logos" });
  const viewer = server.cli("key", "create", "--client", "acme", "--role", "viewer");
  page = await newPage(browser, { ...server, key: viewer });
  await signIn(page, { ...server, key: viewer });
  await page.waitForSelector('.tile.folder:has-text("logos")');
  assert.equal(await page.textContent("#role"), "viewer");
  for (const button of ["#upload", "#new-folder"]) assert.equal(await page.isVisible(button), false, button);
});
