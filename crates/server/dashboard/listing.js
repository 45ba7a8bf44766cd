// The folder listing: loading its pages, and drawing folders and files as tiles or table rows.

import { PAGE, state, can, actions } from "./state.js";
import { api } from "./api.js";
import { $, el, bytes, when, pathOf, join, status } from "./dom.js";

function listingPath(cursor) {
  const q = new URLSearchParams({ folder: state.folder, sort: state.sort, order: state.order, limit: PAGE });
  if (cursor) q.set("cursor", cursor);
  return `/v2/media/folder?${q}`;
}

let probeRecheck = null;

export async function load() {
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

export async function loadMore() {
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

export function render() {
  renderCrumbs();
  const listing = $("listing");
  // Re-rendering replaces the nodes (a probe recheck does so every 2 s after an upload): keep the
  // keyboard and an open file menu where they were.
  const focused = document.activeElement?.dataset?.path;
  const openMenu = listing.querySelector("details.menu[open]");
  const menuOpen = openMenu?.closest("[data-path]")?.dataset.path;
  const menuFocus = openMenu ? [...openMenu.querySelectorAll("summary, button")].indexOf(document.activeElement) : -1;
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
  const node = (path) => [...listing.querySelectorAll("[data-path]")].find((n) => n.dataset.path === path);
  if (focused) (node(focused) || listing).focus();
  const menu = menuOpen && node(menuOpen)?.querySelector("details.menu");
  if (menu) {
    menu.setAttribute("open", "");
    if (menuFocus >= 0) menu.querySelectorAll("summary, button")[menuFocus]?.focus();
  }
}

export function renderSelection() {
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
    actions.moveFiles(JSON.parse(raw), folderPath);
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
      onclick: () => actions.preview(file),
      onkeydown: (e) => {
        activate(e, () => actions.preview(file));
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
      el("button", { type: "button", onclick: () => { close(); actions.preview(file); } }, "Preview"),
      can("edit") ? el("button", { type: "button", onclick: () => { close(); actions.askMove([pathOf(file)]); } }, "Move to folder") : null,
      can("edit") ? el("button", { type: "button", onclick: () => { close(); actions.askRename(file); } }, "Rename") : null,
      can("edit") ? el("button", { type: "button", class: "danger", onclick: () => { close(); actions.askDelete([pathOf(file)]); } }, "Delete") : null,
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
      ondblclick: () => actions.preview(file),
      onkeydown: (e) => {
        activate(e, () => actions.preview(file));
        if (e.key === " ") { e.preventDefault(); toggle(path); }
      },
      ondragstart: (e) => dragFiles(e, file) },
      el("td", { class: "name" }, el("button", { type: "button", class: "link", onclick: (e) => { e.stopPropagation(); actions.preview(file); } }, file.name), " ", badge(file)),
      el("td", {}, bytes(file.size)),
      el("td", {}, file.type),
      el("td", {}, when(file.updated_at)),
      el("td", {}, rowMenu(file))));
  }
  return el("table", {},
    el("thead", {}, el("tr", {}, el("th", {}, "Name"), el("th", {}, "Size"), el("th", {}, "Type"), el("th", {}, "Modified"), el("th", { "aria-label": "Actions" }, ""))),
    el("tbody", {}, ...rows));
}
