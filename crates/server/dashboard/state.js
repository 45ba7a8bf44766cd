// What the page shows and who is signed in, shared by every module of the dashboard.

export const KEY_SLOT = "mediadrive.key";
export const PAGE = 200;

export const state = {
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
export const can = (action) => ROLES.indexOf(state.role) >= ROLES.indexOf({ upload: "render", edit: "editor" }[action]);

// The tiles and menus of the listing start actions (preview, move, rename, delete) whose modules
// reload the listing; they are reached through this table, which app.js fills, so that the
// listing and those modules do not import each other.
export const actions = {};
