// Uploads through presigned URLs, a few at a time, each with its progress row.

import { state, can } from "./state.js";
import { ApiError, api } from "./api.js";
import { $, el, status } from "./dom.js";
import { refreshUsage } from "./session.js";
import { load } from "./listing.js";

function put(url, file, contentType, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.setRequestHeader("content-type", contentType);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let message = `${xhr.status} ${xhr.statusText}`;
      try {
        message = JSON.parse(xhr.responseText).message || message;
      } catch {
        // Not JSON (an object store's XML error, say): the status says enough.
      }
      reject(new ApiError(message));
    };
    xhr.onerror = () => reject(new ApiError("The upload was interrupted"));
    xhr.send(file);
  });
}

/** One queued upload: its row, and the request for its URL made only when its turn comes. */
function queueRow(file) {
  const bar = el("progress", { max: "100", value: "0", "aria-label": `Upload of ${file.name}` });
  const note = el("span", { class: "muted" }, "waiting");
  const row = el("div", { class: "upload", dataset: { name: file.name } }, el("span", { class: "name" }, file.name), bar, note);
  $("uploads").append(row);
  return { row, bar, note };
}

async function uploadOne(file, folder, { row, bar, note }) {
  const contentType = file.type || "application/octet-stream";
  try {
    // The presigned URL lives 120 s (seed 002): it is asked for just before its bytes are sent.
    const ticket = await api("POST", "/v2/media/file", { name: file.name, contentType, size: file.size, folder });
    note.textContent = "uploading";
    await put(ticket.uploadUrl, file, contentType, (share) => { bar.value = Math.round(share * 100); });
    bar.value = 100;
    note.textContent = "done";
    row.classList.add("done");
  } catch (e) {
    note.textContent = e.message;
    note.className = "error";
    row.classList.add("failed");
  }
}

/** Uploads at once; more would only queue in the browser while their URLs run out. */
const PARALLEL_UPLOADS = 3;

let reloadSoon = null;

export async function upload(files) {
  if (!can("upload")) {
    status("Insufficient permissions", true);
    return;
  }
  const folder = state.folder;
  const queue = [...files].map((file) => ({ file, ui: queueRow(file) }));
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      await uploadOne(next.file, folder, next.ui);
      // New files show as they finish, without waiting for the slowest one.
      clearTimeout(reloadSoon);
      reloadSoon = setTimeout(() => { if (state.folder === folder) load(); }, 150);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL_UPLOADS }, worker));
  refreshUsage();
}
