// The ask dialog, and the actions that go through it: new folder, move, rename, delete.

import { state } from "./state.js";
import { api } from "./api.js";
import { $, el, join, split, status } from "./dom.js";
import { refreshUsage } from "./session.js";
import { load } from "./listing.js";

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

export async function newFolder() {
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

export async function askDelete(paths) {
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

export async function askMove(paths) {
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

export async function moveFiles(paths, destination) {
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

export async function askRename(file) {
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
