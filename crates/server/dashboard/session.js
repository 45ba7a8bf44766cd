// Signing in and out with an API key, and the storage usage shown in the header.

import { KEY_SLOT, state, can } from "./state.js";
import { api } from "./api.js";
import { $, bytes, status } from "./dom.js";
import { load } from "./listing.js";

export async function signIn(key) {
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

export async function refreshUsage() {
  try {
    showUsage((await api("GET", "/v2/media?limit=1")).storage);
  } catch (e) {
    status(e.message, true);
  }
}

export function signOut(reason = "") {
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
