// What the studio's page and the listening-test page share: element lookup and making, and
// the JSON API call (fugato/studio/app.py). Loaded before each page's own script.
"use strict";

const $ = (id) => document.getElementById(id);

// A new element with `attributes` and `children` (strings become text): no page builds markup
// from strings, so no name a user chose (an uploaded file's) can become HTML.
function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

// GET `url` (no body) or POST `body` (a Blob as octet-stream, else JSON); the parsed JSON
// answer, or an Error carrying the server's one-line reason.
async function request(url, body) {
  const init = { method: body === undefined ? "GET" : "POST" };
  if (body instanceof Blob) {
    init.body = body;
    init.headers = { "Content-Type": "application/octet-stream" };
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { "Content-Type": "application/json" };
  }
  const response = await fetch(url, init);
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) {
    const detail = data.error || (Array.isArray(data.detail)
      ? data.detail.map((d) => `${d.loc.slice(-1)[0]}: ${d.msg}`).join("; ") : data.detail);
    throw new Error(detail || `HTTP ${response.status}`);
  }
  return data;
}
