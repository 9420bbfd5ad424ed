// REST calls with the bearer token, and the session kept in sessionStorage.

/** ApiError is a failed request: status 0 means the server was not reached. */
export class ApiError extends Error {
  constructor(status, code, message, reason) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.reason = reason || ""; // the server's finer "why", when it gives one
  }

  /** network reports whether the request never got an answer. */
  get network() { return this.status === 0; }

  /** retryable reports whether trying the same request later may work. */
  get retryable() { return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500; }
}

/**
 * request sends one JSON request. token may be empty (login). On an
 * error answer it throws ApiError with the server's {error:{code,message}}.
 */
export async function request(method, path, { token, body } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, "network", err.message);
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    if (res.ok) throw new ApiError(res.status, "invalid_response", "not JSON");
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(res.status, e.code || "http_" + res.status, e.message, e.reason);
  }
  return data;
}

/**
 * createApi binds request to a session's token. onUnauthorized runs on any
 * 401 (the token expired or was revoked).
 */
export function createApi(getToken, onUnauthorized) {
  const call = async (method, path, body) => {
    try {
      return await request(method, path, { token: getToken(), body });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) onUnauthorized();
      throw err;
    }
  };
  return {
    get: (path) => call("GET", path),
    post: (path, body = {}) => call("POST", path, body),
    put: (path, body = {}) => call("PUT", path, body),
    del: (path) => call("DELETE", path),
    upload: async (file, onProgress) => {
      try {
        return await upload(file, getToken(), onProgress);
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) onUnauthorized();
        throw err;
      }
    },
  };
}

/**
 * upload sends one file to POST /api/uploads with its bytes as the body,
 * reporting progress (0–1) as it goes; it resolves to the attachment
 * record and rejects with an ApiError (reason set when the server gave one;
 * status 0 when it could not be reached).
 */
export function upload(file, token, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/uploads?name=${encodeURIComponent(file.name || "file")}`);
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, "network", "network error"));
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 201 && data) {
        onProgress(1);
        resolve(data);
        return;
      }
      const e = (data && data.error) || {};
      reject(new ApiError(xhr.status, e.code || `http_${xhr.status}`, e.message, e.reason));
    };
    xhr.send(file);
  });
}

/** Session keeps a login in sessionStorage under key: {token, id, name}. */
export class Session {
  constructor(key) {
    this.key = key;
    try {
      this.data = JSON.parse(sessionStorage.getItem(key)) || null;
    } catch {
      this.data = null;
    }
  }

  get token() { return this.data ? this.data.token : ""; }
  get id() { return this.data ? this.data.id : ""; }
  get name() { return this.data ? this.data.name : ""; }

  save(data) {
    this.data = data;
    sessionStorage.setItem(this.key, JSON.stringify(data));
  }

  clear() {
    this.data = null;
    sessionStorage.removeItem(this.key);
  }
}

/** enc encodes one path segment. */
export const enc = encodeURIComponent;
