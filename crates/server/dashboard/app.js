// The media panel of seed 001: browse, upload, preview and clean up the drive through the v2 API.
// Plain DOM code, no framework: the page must load fast and be served by the binary as it is.

import { state, actions } from "./state.js";
import { $ } from "./dom.js";
import { signIn, signOut } from "./session.js";
import { load, loadMore, render, renderSelection } from "./listing.js";
import { newFolder, askDelete, askMove, askRename, moveFiles } from "./dialogs.js";
import { upload } from "./uploads.js";
import { copyUrl, preview } from "./preview.js";

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

Object.assign(actions, { preview, askMove, askRename, askDelete, moveFiles });
wire();
if (state.key) {
  signIn(state.key).catch((e) => signOut(e.message));
} else {
  signOut();
}
