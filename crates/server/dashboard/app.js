// The media panel of seed 001: browse, upload, preview and clean up the drive through the v2 API.
// Plain DOM code, no framework: the page must load fast and be served by the binary as it is.

const KEY_SLOT = "mediadrive.key";
const PAGE = 200;

const $ = (id) => document.getElementById(id);

const state = {
  key: sessionStorage.getItem(KEY_SLOT),
  client: "",
  folder: "",
  view: "grid",
  sort: "date",
  order: "desc",
  filter: "",
  folders: [],
  files: [],
  cursor: null,
  selected: new Set(),
  role: "viewer",
  // Each listing request gets a number; an answer to an older one is dropped.
  loadSeq: 0,
  previewSeq: 0,
};

const ROLES = ["viewer", "render", "editor", "manager", "admin"];
// The role each action needs, as the API checks it (seed 002).
const can = (action) => ROLES.indexOf(state.role) >= ROLES.indexOf({ upload: "render", edit: "editor" }[action]);

class ApiError extends Error {}

async function api(method, path, body) {
  const init = { method, headers: { "x-api-key": state.key } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const answer = await resp.json().catch(() => ({}));
  if (!resp.ok || answer.success === false) {
    throw new ApiError(answer.message || `${resp.status} ${resp.statusText}`);
  }
  return answer;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function seconds(ms) {
  if (!ms && ms !== 0) return "";
  const s = ms / 1000;
  return s >= 60 ? `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, "0")}` : `${s.toFixed(1)} s`;
}

const pathOf = (f) => (f.folder ? `${f.folder}/${f.name}` : f.name);
const join = (folder, name) => (folder ? `${folder}/${name}` : name);

function status(text, isError = false) {
  const node = $("status");
  node.textContent = text;
  node.classList.toggle("error", isError);
}

// ---- sign-in and the header -------------------------------------------------------------------

async function signIn(key) {
  state.key = key;
  const overview = await api("GET", "/v2/media?limit=1");
  sessionStorage.setItem(KEY_SLOT, key);
  $("key").value = "";
  state.client = overview.client_id;
  state.role = overview.role;
  showUsage(overview.storage);
  $("sign-in").hidden = true;
  $("account").hidden = false;
  $("drive").hidden = false;
  $("client").textContent = overview.client_id;
  $("role").textContent = overview.role;
  // Only what this key may do is offered.
  $("new-folder").hidden = !can("upload");
  $("upload").hidden = !can("upload");
  $("move-selected").hidden = !can("edit");
  $("delete-selected").hidden = !can("edit");
  await load();
}

function showUsage(storage) {
  const quota = storage.free_allowance;
  const used = storage.used_bytes;
  const share = quota ? Math.min(100, (used / quota) * 100) : 0;
  $("usage-fill").style.width = `${share}%`;
  $("usage-fill").classList.toggle("full", share >= 90 || storage.blocked);
  $("usage-text").textContent = storage.blocked
    ? `${bytes(used)} used · storage blocked`
    : `${bytes(used)} of ${quota ? bytes(quota) : "unlimited"}`;
}

async function refreshUsage() {
  try {
    showUsage((await api("GET", "/v2/media?limit=1")).storage);
  } catch (e) {
    status(e.message, true);
  }
}

function signOut(reason = "") {
  sessionStorage.removeItem(KEY_SLOT);
  Object.assign(state, { key: null, folder: "", filter: "", folders: [], files: [], cursor: null });
  state.selected.clear();
  $("uploads").replaceChildren();
  $("listing").replaceChildren();
  $("filter").value = "";
  status("");
  $("sign-in-error").textContent = reason;
  $("account").hidden = true;
  $("drive").hidden = true;
  $("sign-in").hidden = false;
  $("key").value = "";
  $("key").focus();
}

// ---- listing ----------------------------------------------------------------------------------

function listingPath(cursor) {
  const q = new URLSearchParams({ folder: state.folder, sort: state.sort, order: state.order, limit: PAGE });
  if (cursor) q.set("cursor", cursor);
  return `/v2/media/folder?${q}`;
}

let probeRecheck = null;

async function load() {
  const seq = ++state.loadSeq;
  try {
    const page = await api("GET", listingPath());
    if (seq !== state.loadSeq) return;
    state.folders = page.folders;
    state.files = page.files;
    state.cursor = page.next_cursor;
    // A selection survives reloads as far as its files do.
    const present = new Set(page.files.map(pathOf));
    for (const path of [...state.selected]) if (!present.has(path)) state.selected.delete(path);
    render();
    // Thumbnails and waveforms come a moment after an upload: look again while files are probed.
    clearTimeout(probeRecheck);
    if (page.files.some((f) => f.probe_status === "pending")) probeRecheck = setTimeout(load, 2000);
  } catch (e) {
    if (seq === state.loadSeq) status(e.message, true);
  }
}

async function loadMore() {
  const seq = state.loadSeq;
  try {
    const page = await api("GET", listingPath(state.cursor));
    if (seq !== state.loadSeq) return;
    state.files.push(...page.files);
    state.cursor = page.next_cursor;
    render();
  } catch (e) {
    status(e.message, true);
  }
}

function open(folder) {
  state.folder = folder;
  state.filter = "";
  state.selected.clear();
  state.cursor = null;
  $("filter").value = "";
  load().then(() => $("listing").focus());
}

function renderCrumbs() {
  const crumbs = $("crumbs");
  crumbs.replaceChildren(el("button", { type: "button", class: "link", onclick: () => open("") }, "Media"));
  let path = "";
  for (const part of state.folder ? state.folder.split("/") : []) {
    path = join(path, part);
    const target = path;
    crumbs.append(el("span", { class: "sep", "aria-hidden": "true" }, "/"));
    crumbs.append(el("button", { type: "button", class: "link", onclick: () => open(target) }, part));
  }
}

function visible(list, name) {
  const needle = state.filter.trim().toLowerCase();
  return needle ? list.filter((x) => name(x).toLowerCase().includes(needle)) : list;
}

function render() {
  renderCrumbs();
  const listing = $("listing");
  // Re-rendering replaces the nodes: keep the keyboard where it was.
  const focused = document.activeElement?.dataset?.path;
  listing.className = `listing ${state.view}`;
  const folders = visible(state.folders, (f) => f.name);
  const files = visible(state.files, (f) => f.name);
  if (state.view === "grid") {
    listing.replaceChildren(...folders.map(folderTile), ...files.map(fileTile));
  } else {
    listing.replaceChildren(listTable(folders, files));
  }
  if (!folders.length && !files.length) {
    listing.append(el("p", { class: "empty muted" }, state.filter ? "Nothing matches the filter." : "This folder is empty. Drop files here to upload them."));
  }
  $("more").hidden = !state.cursor;
  renderSelection();
  if (focused) {
    const again = [...listing.querySelectorAll("[data-path]")].find((n) => n.dataset.path === focused);
    (again || listing).focus();
  }
}

function renderSelection() {
  const n = state.selected.size;
  $("selection").hidden = n === 0;
  $("selection-count").textContent = `${n} selected`;
  for (const node of document.querySelectorAll("[data-path]")) {
    const on = state.selected.has(node.dataset.path);
    node.classList.toggle("selected", on);
    const box = node.querySelector("input[type=checkbox]");
    if (box) box.checked = on;
    if (node.tagName === "TR") node.setAttribute("aria-selected", on ? "true" : "false");
  }
}

function toggle(path) {
  if (state.selected.has(path)) state.selected.delete(path);
  else state.selected.add(path);
  renderSelection();
}

function dragFiles(event, file) {
  const paths = state.selected.has(pathOf(file)) ? [...state.selected] : [pathOf(file)];
  event.dataTransfer.setData("application/x-mediadrive-files", JSON.stringify(paths));
  event.dataTransfer.effectAllowed = "move";
}

function folderDropTarget(node, folderPath) {
  node.addEventListener("dragover", (e) => {
    if (e.dataTransfer.types.includes("application/x-mediadrive-files")) {
      e.preventDefault();
      node.classList.add("drop");
    }
  });
  node.addEventListener("dragleave", () => node.classList.remove("drop"));
  node.addEventListener("drop", (e) => {
    const raw = e.dataTransfer.getData("application/x-mediadrive-files");
    node.classList.remove("drop");
    if (!raw) return;
    e.preventDefault();
    e.stopPropagation();
    moveFiles(JSON.parse(raw), folderPath);
  });
}

// Enter on a tile or row; its default action would otherwise press the first button of the dialog
// the handler opens.
function activate(event, action) {
  if (event.key !== "Enter") return;
  event.preventDefault();
  action();
}

function folderTile(folder) {
  const tile = el(
    "div",
    { class: "tile folder", tabindex: "0", role: "button", "aria-label": `Folder ${folder.name}`,
      onclick: () => open(folder.path), onkeydown: (e) => activate(e, () => open(folder.path)) },
    el("div", { class: "thumb folder-icon", "aria-hidden": "true" }),
    el("div", { class: "name" }, folder.name),
  );
  folderDropTarget(tile, folder.path);
  return tile;
}

function badge(file) {
  if (file.origin) {
    return el("span", { class: "badge", title: `Generated by ${file.origin.model}, kept in the drive` }, "generated · persistent");
  }
  if (file.temporary) return el("span", { class: "badge temp" }, "temporary");
  if (file.status === "pending") return el("span", { class: "badge temp" }, "uploading");
  return null;
}

function thumb(file) {
  if (file.thumbnailUrl) {
    return el("img", { class: "thumb", src: file.thumbnailUrl, alt: "", loading: "lazy" });
  }
  // No emoji: a machine without an emoji font would draw empty boxes.
  const ext = file.name.includes(".") ? file.name.split(".").pop().toUpperCase().slice(0, 4) : file.type;
  return el("div", { class: `thumb icon ${file.type}`, "aria-hidden": "true" }, ext);
}

function fileTile(file) {
  const path = pathOf(file);
  const box = el("input", { type: "checkbox", "aria-label": `Select ${file.name}`, onclick: (e) => { e.stopPropagation(); toggle(path); } });
  return el(
    "div",
    { class: "tile file", tabindex: "0", draggable: "true", dataset: { path }, "aria-label": file.name,
      onclick: () => preview(file),
      onkeydown: (e) => {
        activate(e, () => preview(file));
        if (e.key === " ") { e.preventDefault(); toggle(path); }
      },
      ondragstart: (e) => dragFiles(e, file) },
    box,
    thumb(file),
    el("div", { class: "name", title: file.name }, file.name),
    el("div", { class: "sub muted" }, bytes(file.size), badge(file)),
    rowMenu(file),
  );
}

function rowMenu(file) {
  const menu = el("details", { class: "menu", onclick: (e) => e.stopPropagation(), onkeydown: (e) => e.stopPropagation() });
  const close = () => menu.removeAttribute("open");
  menu.append(
    el("summary", { "aria-label": `Actions for ${file.name}` }, "⋯"),
    el("div", { class: "menu-items" },
      el("button", { type: "button", onclick: () => { close(); preview(file); } }, "Preview"),
      can("edit") ? el("button", { type: "button", onclick: () => { close(); askMove([pathOf(file)]); } }, "Move to folder") : null,
      can("edit") ? el("button", { type: "button", onclick: () => { close(); askRename(file); } }, "Rename") : null,
      can("edit") ? el("button", { type: "button", class: "danger", onclick: () => { close(); askDelete([pathOf(file)]); } }, "Delete") : null,
    ),
  );
  return menu;
}

function listTable(folders, files) {
  const rows = [];
  for (const folder of folders) {
    const row = el("tr", { class: "folder", tabindex: "0", onclick: () => open(folder.path), onkeydown: (e) => activate(e, () => open(folder.path)) },
      el("td", {}, el("span", { class: "folder-mark", "aria-hidden": "true" }), folder.name), el("td", {}, ""), el("td", {}, "folder"), el("td", {}, when(folder.created_at)), el("td", {}, ""));
    folderDropTarget(row, folder.path);
    rows.push(row);
  }
  for (const file of files) {
    const path = pathOf(file);
    rows.push(el("tr", { class: "file", tabindex: "0", draggable: "true", dataset: { path }, "aria-selected": "false",
      onclick: () => toggle(path),
      ondblclick: () => preview(file),
      onkeydown: (e) => {
        activate(e, () => preview(file));
        if (e.key === " ") { e.preventDefault(); toggle(path); }
      },
      ondragstart: (e) => dragFiles(e, file) },
      el("td", { class: "name" }, el("button", { type: "button", class: "link", onclick: (e) => { e.stopPropagation(); preview(file); } }, file.name), " ", badge(file)),
      el("td", {}, bytes(file.size)),
      el("td", {}, file.type),
      el("td", {}, when(file.updated_at)),
      el("td", {}, rowMenu(file))));
  }
  return el("table", {},
    el("thead", {}, el("tr", {}, el("th", {}, "Name"), el("th", {}, "Size"), el("th", {}, "Type"), el("th", {}, "Modified"), el("th", { "aria-label": "Actions" }, ""))),
    el("tbody", {}, ...rows));
}

// ---- dialogs ----------------------------------------------------------------------------------

// One small dialog for confirmations, names and destinations; resolves with the value or null.
// `check` runs while the dialog stays open and returns an error message to show, or nothing.
function ask({ title, text = "", input = null, select = null, ok = "OK", danger = false, check = null }) {
  const dialog = $("ask");
  const form = $("ask-form");
  const okButton = $("ask-ok");
  $("ask-title").textContent = title;
  $("ask-text").textContent = text;
  $("ask-error").textContent = "";
  okButton.textContent = ok;
  okButton.classList.toggle("danger", danger);
  okButton.disabled = false;
  const field = $("ask-input");
  field.hidden = input === null;
  $("ask-label").hidden = input === null;
  if (input !== null) {
    $("ask-label").textContent = input.label;
    field.value = input.value || "";
  }
  const choice = $("ask-select");
  choice.hidden = select === null;
  if (select !== null) choice.replaceChildren(...select.map((o) => el("option", { value: o.value }, o.label)));
  const returnFocus = document.activeElement;
  return new Promise((resolve) => {
    let answer = null;
    const submit = async (event) => {
      event.preventDefault();
      if (okButton.disabled) return;
      const value = input !== null ? field.value : select !== null ? choice.value : true;
      if (check) {
        okButton.disabled = true;
        const problem = await check(value);
        okButton.disabled = false;
        if (problem) {
          $("ask-error").textContent = problem;
          return;
        }
      }
      answer = value;
      dialog.close();
    };
    const cancel = () => dialog.close();
    const closed = () => {
      form.removeEventListener("submit", submit);
      $("ask-cancel").removeEventListener("click", cancel);
      dialog.removeEventListener("close", closed);
      if (returnFocus && returnFocus.isConnected) returnFocus.focus();
      else $("listing").focus();
      resolve(answer);
    };
    form.addEventListener("submit", submit);
    $("ask-cancel").addEventListener("click", cancel);
    dialog.addEventListener("close", closed);
    dialog.showModal();
    (input !== null ? field : select !== null ? choice : okButton).focus();
  });
}

async function newFolder() {
  await ask({
    title: "New folder",
    input: { label: "Folder name" },
    ok: "Create",
    check: async (name) => {
      if (!name.trim()) return "folder is required";
      try {
        await api("POST", "/v2/media/folder", { folder: join(state.folder, name.trim()) });
        await load();
        return null;
      } catch (e) {
        return e.message;
      }
    },
  });
}

const split = (path) => {
  const at = path.lastIndexOf("/");
  return at < 0 ? { folder: "", name: path } : { folder: path.slice(0, at), name: path.slice(at + 1) };
};

async function askDelete(paths) {
  const n = paths.length;
  const sure = await ask({
    title: n === 1 ? "Delete file" : `Delete ${n} files`,
    text: n === 1 ? `Delete ${paths[0]}? Its URL stops working at once.` : `Delete ${n} files? Their URLs stop working at once.`,
    ok: n === 1 ? "Delete" : `Delete ${n} files`,
    danger: true,
  });
  if (!sure) return;
  let outcome;
  try {
    const done = await api("DELETE", "/v2/media/file", { files: paths.map(split) });
    outcome = [`Deleted ${done.deleted} ${done.deleted === 1 ? "file" : "files"}.`, false];
  } catch (e) {
    outcome = [e.message, true];
  }
  // The message comes with the listing it speaks of, not before it.
  await load();
  status(...outcome);
  refreshUsage();
}

async function folderChoices() {
  const tree = await api("GET", "/v2/media/folder?tree=true");
  const paths = new Set(["", ...tree.folders.map((f) => f.path)]);
  return [...paths].sort().map((p) => ({ value: p, label: p ? `/${p}` : "/ (root)" }));
}

async function askMove(paths) {
  let choices;
  try {
    choices = await folderChoices();
  } catch (e) {
    status(e.message, true);
    return;
  }
  const target = await ask({
    title: paths.length === 1 ? `Move ${split(paths[0]).name}` : `Move ${paths.length} files`,
    text: "Choose the destination folder.",
    select: choices,
    ok: "Move",
  });
  if (target !== null) await moveFiles(paths, target);
}

async function moveFiles(paths, destination) {
  const failures = [];
  for (const path of paths) {
    const { folder, name } = split(path);
    if (folder === destination) continue;
    try {
      await api("PUT", "/v2/media/file", { name, folder, destination: destination || "/" });
    } catch (e) {
      failures.push(`${name}: ${e.message}`);
    }
  }
  await load();
  status(failures.length ? failures.join(" · ") : `Moved to /${destination}.`, failures.length > 0);
}

async function askRename(file) {
  await ask({
    title: `Rename ${file.name}`,
    input: { label: "New name", value: file.name },
    ok: "Rename",
    check: async (newName) => {
      if (!newName.trim()) return "newName is required";
      try {
        await api("PUT", "/v2/media/file", { name: file.name, folder: file.folder, newName: newName.trim() });
        await load();
        return null;
      } catch (e) {
        return e.message;
      }
    },
  });
}

// ---- uploads ----------------------------------------------------------------------------------

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

async function upload(files) {
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

// ---- preview ----------------------------------------------------------------------------------

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

async function preview(file) {
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

async function copyUrl() {
  const url = $("preview-url").value;
  try {
    await navigator.clipboard.writeText(url);
  } catch {
    $("preview-url").select();
    document.execCommand("copy");
  }
  $("copy-status").textContent = "URL copied";
}

// ---- wiring -----------------------------------------------------------------------------------

function setView(view) {
  state.view = view;
  $("view-grid").setAttribute("aria-pressed", String(view === "grid"));
  $("view-list").setAttribute("aria-pressed", String(view === "list"));
  render();
}

function wire() {
  $("sign-in").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("sign-in-error").textContent = "";
    try {
      await signIn($("key").value.trim());
    } catch (err) {
      state.key = null;
      $("sign-in-error").textContent = err.message;
    }
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("new-folder").addEventListener("click", newFolder);
  $("upload").addEventListener("click", () => $("file-input").click());
  $("file-input").addEventListener("change", (e) => {
    upload(e.target.files);
    e.target.value = "";
  });
  $("filter").addEventListener("input", (e) => {
    state.filter = e.target.value;
    render();
  });
  $("sort").addEventListener("change", (e) => {
    state.sort = e.target.value;
    state.order = state.sort === "name" ? "asc" : "desc";
    $("order").textContent = state.order === "asc" ? "↑" : "↓";
    load();
  });
  $("order").addEventListener("click", () => {
    state.order = state.order === "asc" ? "desc" : "asc";
    $("order").textContent = state.order === "asc" ? "↑" : "↓";
    load();
  });
  $("view-grid").addEventListener("click", () => setView("grid"));
  $("view-list").addEventListener("click", () => setView("list"));
  $("more").addEventListener("click", loadMore);
  $("delete-selected").addEventListener("click", () => askDelete([...state.selected]));
  $("move-selected").addEventListener("click", () => askMove([...state.selected]));
  $("clear-selection").addEventListener("click", () => {
    state.selected.clear();
    renderSelection();
  });
  $("copy-url").addEventListener("click", copyUrl);
  $("preview").addEventListener("close", () => $("preview-media").replaceChildren());
  for (const button of document.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }
  const zone = $("drive");
  zone.addEventListener("dragover", (e) => {
    if (e.dataTransfer.types.includes("Files")) {
      e.preventDefault();
      zone.classList.add("dragging");
    }
  });
  zone.addEventListener("dragleave", (e) => {
    if (!zone.contains(e.relatedTarget)) zone.classList.remove("dragging");
  });
  zone.addEventListener("drop", (e) => {
    zone.classList.remove("dragging");
    if (e.dataTransfer.files.length) {
      e.preventDefault();
      upload(e.dataTransfer.files);
    }
  });
  // A file dropped anywhere else must not replace the page.
  for (const type of ["dragover", "drop"]) {
    document.addEventListener(type, (e) => {
      if (e.dataTransfer?.types.includes("Files")) e.preventDefault();
    });
  }
}

wire();
if (state.key) {
  signIn(state.key).catch((e) => signOut(e.message));
} else {
  signOut();
}
