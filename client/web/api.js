// api.js -- the page's one way to talk to hookd: Connect unary calls with JSON bodies.

// An error answer from hookd: its Connect code ("invalid_argument") and message.
export class ApiError {
  constructor(code, message) {
    this.code = code;
    this.message = message;
  }
  // The request field the message names ("url: must be ..." -> "url"), or "".
  get field() {
    const m = /^([a-z_][a-z0-9_.]*):/.exec(this.message || '');
    return m ? m[1] : '';
  }
}

// Calls hookd.v1.Webhooks/<method> with request (proto3 JSON field names) and resolves
// with the response message, or with an ApiError when hookd (or the network) says no.
export async function call(method, request = {}) {
  let res;
  try {
    res = await fetch(`/hookd.v1.Webhooks/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'connect-protocol-version': '1' },
      body: JSON.stringify(request),
      credentials: 'same-origin',
    });
  } catch (e) {
    return new ApiError('unavailable', `hookd did not answer: ${e.message}`);
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (res.ok) return body || {};
  if (res.status === 401) {
    location.assign('/login');
    return new ApiError('unauthenticated', 'the session has ended: run `hookctl ui` for a new link');
  }
  return new ApiError(body?.code || `http_${res.status}`, body?.message || res.statusText);
}
