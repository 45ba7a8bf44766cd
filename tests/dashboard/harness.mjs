// Starts the real mediadrive binary with a fresh data directory and drives Debian's Chromium
// against it with playwright-core. The backends follow MEDIADRIVE_TEST_BACKEND as the end-to-end
// suite's do (`postgres+s3`: a new database on MEDIADRIVE_TEST_POSTGRES_URL's cluster and a new
// prefix of MEDIADRIVE_TEST_S3_URL's bucket, as scripts/test starts them).

import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = process.env.MEDIADRIVE_BIN || path.join(ROOT, "target/debug/mediadrive");
export const SHOTS = process.env.SCREENSHOT_DIR || path.join(ROOT, "target/dashboard-screenshots");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The backends under test, as MEDIADRIVE_TEST_BACKEND names them. */
export const BACKEND = process.env.MEDIADRIVE_TEST_BACKEND || "sqlite+fs";
export const ON_S3 = BACKEND.split("+").includes("s3");

let servers = 0;

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with scripts/test`);
  return value;
}

/** The flags that put a server (and every CLI command run against it) on the backends under test. */
function backendArgs() {
  const args = [];
  const unique = `md_js_${process.pid}_${Date.now()}_${servers++}`;
  for (const part of BACKEND.split("+").filter(Boolean)) {
    if (part === "sqlite" || part === "fs") continue;
    if (part === "postgres") {
      const admin = required("MEDIADRIVE_TEST_POSTGRES_URL");
      execFileSync("psql", [admin, "-qc", `CREATE DATABASE ${unique}`]);
      args.push("--database-url", `${admin.slice(0, admin.lastIndexOf("/"))}/${unique}`);
    } else if (part === "s3") {
      args.push("--blob-url", `${required("MEDIADRIVE_TEST_S3_URL")}&root=/${unique}/`);
    } else {
      throw new Error(`unknown backend '${part}' in MEDIADRIVE_TEST_BACKEND`);
    }
  }
  return args;
}

/** The base URL from `serve`'s first line, `listening on URL`; the rest of its output is drained
 * so that the server never writes into a full pipe. */
function readyLine(child) {
  return new Promise((resolve, reject) => {
    let seen = "";
    const exited = (code, signal) => reject(new Error(`mediadrive exited (${code ?? signal}) before listening`));
    const read = (chunk) => {
      seen += chunk;
      const end = seen.indexOf("\n");
      if (end < 0) return;
      child.stdout.off("data", read);
      child.off("exit", exited);
      child.stdout.on("data", () => {});
      const line = seen.slice(0, end).trim();
      if (line.startsWith("listening on ")) resolve(line.slice("listening on ".length));
      else reject(new Error(`mediadrive did not say where it listens: ${JSON.stringify(line)}`));
    };
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", read);
    child.once("exit", exited);
  });
}

export async function startServer() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mediadrive-dashboard-"));
  const data = path.join(dir, "data");
  const backends = backendArgs();
  // Port 0: the server takes a free port itself and names it, so no other test's server can be
  // the one answering here.
  const child = spawn(BIN, ["serve", "--data-dir", data, "--listen", "127.0.0.1:0", ...backends], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, RUST_LOG: "warn" },
  });
  const base = await readyLine(child);
  let up = false;
  for (let i = 0; i < 400 && !up; i++) {
    up = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
    if (!up) await sleep(25);
  }
  if (!up) throw new Error("mediadrive did not start");
  const cli = (...args) =>
    execFileSync(BIN, [...args, "--data-dir", data, ...backends], { encoding: "utf8" }).trim();
  const key = cli("key", "create", "--client", "acme", "--role", "admin");
  const api = async (method, route, body) => {
    const resp = await fetch(base + route, {
      method,
      headers: { "x-api-key": key, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return resp.json();
  };
  return {
    base,
    key,
    cli,
    api,
    /** Stops the server and waits for it to exit: a server still writing blobs as the
     * directory is removed makes the removal fail. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill();
        await exited;
      }
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

/** A page of a fresh context that records every console error and uncaught exception. */
export async function newPage(browser, server, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...options });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.base });
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(`uncaught: ${e.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") page.problems.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  return page;
}

export async function signIn(page, server) {
  await page.goto(`${server.base}/dashboard/`);
  await page.fill("#key", server.key);
  await page.click("#sign-in button[type=submit]");
  await page.waitForSelector("#drive:not([hidden])");
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** Media made by ffmpeg once per run: an image, a video and an audio file. */
export function media() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mediadrive-media-"));
  const make = (name, args) => {
    const out = path.join(dir, name);
    execFileSync("ffmpeg", ["-v", "error", "-nostdin", "-y", ...args, out]);
    return readFileSync(out);
  };
  return {
    "sunrise.png": { type: "image/png", bytes: make("sunrise.png", ["-f", "lavfi", "-i", "testsrc2=size=640x480", "-frames:v", "1"]) },
    "clip.mp4": {
      type: "video/mp4",
      bytes: make("clip.mp4", ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]),
    },
    "tone.wav": { type: "audio/wav", bytes: make("tone.wav", ["-f", "lavfi", "-i", "sine=frequency=440:duration=2"]) },
  };
}

/** Drops files onto an element as a user dragging them from the desktop would. */
export async function dropFiles(page, selector, files) {
  const payload = Object.entries(files).map(([name, f]) => ({ name, type: f.type, b64: f.bytes.toString("base64") }));
  const transfer = await page.evaluateHandle((items) => {
    const dt = new DataTransfer();
    for (const { name, type, b64 } of items) {
      const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      dt.items.add(new File([raw], name, { type }));
    }
    return dt;
  }, payload);
  await page.dispatchEvent(selector, "dragover", { dataTransfer: transfer });
  await page.dispatchEvent(selector, "drop", { dataTransfer: transfer });
}

/** Waits until probing, and the previews made with it, finished for every file of a folder. */
export async function settled(server, folder = "") {
  for (let i = 0; i < 300; i++) {
    const page = await server.api("GET", `/v2/media/folder?folder=${encodeURIComponent(folder)}&limit=1000`);
    const probed = page.files.every((f) => f.probe_status !== "pending");
    const previews = [
      ...page.files.filter((f) => f.thumbnailUrl).map((f) => f.thumbnailUrl),
      ...page.files.filter((f) => f.metadata?.kind === "audio").map((f) => `${f.url}?preview=waveform`),
    ];
    const thumbs = await Promise.all(previews.map((u) => fetch(u, { method: "HEAD" }).then((r) => r.ok)));
    if (probed && thumbs.every(Boolean)) return page.files;
    await sleep(100);
  }
  throw new Error("probing did not finish");
}
