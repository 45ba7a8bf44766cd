// Requests to the v2 API with the signed-in key; a refusal becomes an ApiError with its message.

import { state } from "./state.js";

export class ApiError extends Error {}

export async function api(method, path, body) {
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
