// The preview dialog: the media itself, its metadata, a waveform for audio, and its URL.

import { state } from "./state.js";
import { api } from "./api.js";
import { $, el, bytes, when, seconds, pathOf } from "./dom.js";

// The waveform is computed after the upload; until the file's record names it, ask again.
async function drawWaveform(canvas, file) {
  let url = file.waveformUrl;
  for (let attempt = 0; !url && attempt < 30 && canvas.isConnected; attempt++) {
    await new Promise((r) => setTimeout(r, 1000));
    const record = await api("GET", `/v2/media/file?path=${encodeURIComponent(pathOf(file))}`).catch(() => null);
    url = record?.file?.waveformUrl;
  }
  if (!url || !canvas.isConnected) return;
  const resp = await fetch(url).catch(() => null);
  if (!resp || !resp.ok) return;
  const { peaks } = await resp.json();
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = "#3b82f6";
  const step = width / peaks.length;
  peaks.forEach((p, i) => {
    const h = Math.max(1, p * height);
    ctx.fillRect(i * step, (height - h) / 2, Math.max(1, step), h);
  });
  canvas.dataset.drawn = String(peaks.length);
}

function metaRows(file, meta) {
  const m = meta || {};
  const rows = [
    ["Type", m.mime || file.contentType],
    ["Size", bytes(file.size)],
    ["Dimensions", m.width && m.height ? `${m.width} × ${m.height}` : null],
    ["Duration", m.duration_ms ? seconds(m.duration_ms) : null],
    ["Codec", m.codecs && m.codecs.length ? m.codecs.join(", ") : m.container],
    ["Frame rate", m.frame_rate ? `${Math.round(m.frame_rate * 100) / 100} fps` : null],
    ["Sample rate", m.sample_rate ? `${m.sample_rate} Hz` : null],
    ["Created", when(file.created_at)],
    ["Modified", when(file.updated_at)],
  ];
  return rows.filter(([, v]) => v).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]);
}

export async function preview(file) {
  const seq = ++state.previewSeq;
  const dialog = $("preview");
  $("preview-name").textContent = file.name;
  const media = $("preview-media");
  const kind = (file.metadata && file.metadata.kind) || file.type;
  if (kind === "image") {
    media.replaceChildren(el("img", { src: file.url, alt: file.name }));
  } else if (kind === "video") {
    media.replaceChildren(el("video", { src: file.url, controls: true, preload: "metadata" }));
  } else if (kind === "audio") {
    const canvas = el("canvas", { class: "waveform", width: "600", height: "120", "aria-label": "Waveform" });
    media.replaceChildren(canvas, el("audio", { src: file.url, controls: true, preload: "metadata" }));
    drawWaveform(canvas, file);
  } else {
    media.replaceChildren(el("p", { class: "muted" }, "No preview for this type."));
  }
  $("preview-meta").replaceChildren(...metaRows(file, file.metadata));
  $("preview-url").value = file.url;
  $("download").href = file.downloadUrl;
  $("copy-status").textContent = "";
  $("preview-origin").hidden = true;
  if (file.origin) showOrigin(file.origin);
  dialog.showModal();
  try {
    const details = await api("GET", `/v2/media/file/metadata?path=${encodeURIComponent(pathOf(file))}`);
    // Another file's preview may have opened meanwhile.
    if (seq !== state.previewSeq) return;
    $("preview-meta").replaceChildren(...metaRows(file, details.metadata));
  } catch (e) {
    if (seq === state.previewSeq) $("copy-status").textContent = e.message;
  }
}

function showOrigin(origin) {
  const node = $("preview-origin");
  const inputs = Object.entries(origin.inputs || {});
  node.replaceChildren(
    el("h3", {}, "Generated"),
    el("dl", { class: "meta" },
      el("dt", {}, "Model"), el("dd", {}, `${origin.type} · ${origin.model}`),
      ...inputs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]),
      el("dt", {}, "Generated"), el("dd", {}, when(origin.generated_at)),
      el("dt", {}, "Persistent"), el("dd", {}, origin.persistent ? "yes: kept in the drive until deleted" : "no: in the temporary cache")),
  );
  node.hidden = false;
}

export async function copyUrl() {
  const url = $("preview-url").value;
  try {
    await navigator.clipboard.writeText(url);
  } catch {
    $("preview-url").select();
    document.execCommand("copy");
  }
  $("copy-status").textContent = "URL copied";
}
