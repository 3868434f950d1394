// A tiny scripted "browser" for end-to-end OAuth tests (Node >= 18, no dependencies).
//
// Same behaviour as formflow.py: follows redirects by hand, keeps cookies per host:port
// (Path, Domain and Secure ignored),
// fills the login form (the one with a password input) and submits the consent form
// (the one with submit buttons name="decision") with decision=allow. The form's action and
// its hidden inputs are read from the HTML, never assumed.

const MAX_STEPS = 25;
const TIMEOUT_MS = 15000;

export class FlowError extends Error {}

// ---------------------------------------------------------------------------------------
// HTML forms (a small tag scanner: enough for server-rendered forms)
// ---------------------------------------------------------------------------------------

function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos|#39);/gi, (m, e) => {
    const l = e.toLowerCase();
    if (l.startsWith("#x")) return String.fromCodePoint(parseInt(l.slice(2), 16));
    if (l.startsWith("#")) return String.fromCodePoint(parseInt(l.slice(1), 10));
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[l];
  });
}

function parseAttrs(src) {
  const attrs = {};
  const re = /([^\s"'=<>\/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  let m;
  while ((m = re.exec(src))) {
    const v = m[2] ?? m[3] ?? m[4];
    attrs[m[1].toLowerCase()] = v === undefined ? "" : decodeEntities(v);
  }
  return attrs;
}

/** Returns [{action, method, fields: [{name, value, type, checked}]}]. */
export function parseForms(html) {
  html = html.replace(/<!--[\s\S]*?-->/g, "");
  const forms = [];
  let form = null;
  let select = null;
  const re = /<(\/?)(form|input|button|select|option|textarea)\b([^>]*)>/gi;
  let m;
  while ((m = re.exec(html))) {
    const closing = m[1] === "/";
    const tag = m[2].toLowerCase();
    const a = parseAttrs(m[3]);
    if (tag === "form") {
      if (closing) form = null;
      else forms.push((form = { action: a.action ?? null, method: (a.method || "get").toLowerCase(), fields: [] }));
      continue;
    }
    if (!form) continue;
    if (closing) {
      if (tag === "select" && select) {
        const value = select.selected ?? select.first;
        if (value !== null) form.fields.push({ name: select.name, value, type: "select", checked: false });
        select = null;
      }
      continue;
    }
    if ("disabled" in a) continue;
    if (tag === "input" && a.name) {
      const type = (a.type || "text").toLowerCase();
      const dflt = type === "checkbox" || type === "radio" ? "on" : "";
      form.fields.push({ name: a.name, value: a.value ?? dflt, type, checked: "checked" in a });
    } else if (tag === "button" && a.name) {
      form.fields.push({ name: a.name, value: a.value ?? "", type: (a.type || "submit").toLowerCase(), checked: false });
    } else if (tag === "textarea" && a.name) {
      const end = html.toLowerCase().indexOf("</textarea", re.lastIndex);
      const text = decodeEntities(html.slice(re.lastIndex, end < 0 ? undefined : end));
      form.fields.push({ name: a.name, value: text, type: "textarea", checked: false });
    } else if (tag === "select" && a.name) {
      select = { name: a.name, first: null, selected: null };
    } else if (tag === "option" && select) {
      const v = a.value ?? "";
      if (select.first === null) select.first = v;
      if ("selected" in a) select.selected = v;
    }
  }
  return forms;
}

function successfulFields(form) {
  return form.fields
    .filter((f) => !["submit", "button", "reset", "image", "file"].includes(f.type))
    .filter((f) => !(f.type === "checkbox" || f.type === "radio") || f.checked)
    .map((f) => [f.name, f.value]);
}

// ---------------------------------------------------------------------------------------
// HTTP with a cookie jar
// ---------------------------------------------------------------------------------------

export class Browser {
  constructor(log = console.log) {
    this.cookies = new Map(); // "host:port" -> Map(name -> value)
    this.log = log;
  }

  static hostKey(url) {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol === "https:" ? 443 : 80)}`;
  }

  storeCookies(url, setCookies) {
    const key = Browser.hostKey(url);
    if (!this.cookies.has(key)) this.cookies.set(key, new Map());
    const jar = this.cookies.get(key);
    for (const sc of setCookies) {
      const parts = sc.split(";").map((p) => p.trim());
      const eq = parts[0].indexOf("=");
      if (eq < 0) continue;
      const name = parts[0].slice(0, eq);
      const value = parts[0].slice(eq + 1);
      let expired = false;
      for (const attr of parts.slice(1)) {
        const [k, v = ""] = attr.split(/=(.*)/s);
        if (k.toLowerCase() === "max-age" && Number(v) <= 0) expired = true;
        if (k.toLowerCase() === "expires" && Date.parse(v) < Date.now()) expired = true;
      }
      if (expired) jar.delete(name);
      else jar.set(name, value);
    }
  }

  async request(method, url, { body, headers = {} } = {}) {
    const u = new URL(url);
    if (u.protocol !== "http:" || !["127.0.0.1", "localhost", "[::1]"].includes(u.hostname)) {
      throw new FlowError(`refusing to request non-loopback URL ${url}`);
    }
    const h = { "User-Agent": "doorway-e2e/1", Accept: "text/html,application/json;q=0.9,*/*;q=0.8", ...headers };
    const jar = this.cookies.get(Browser.hostKey(url));
    if (jar && jar.size) h.Cookie = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await fetch(url, { method, body, headers: h, redirect: "manual", signal: AbortSignal.timeout(TIMEOUT_MS) });
    const text = await res.text();
    this.storeCookies(url, res.headers.getSetCookie ? res.headers.getSetCookie() : []);
    const loc = res.headers.get("location");
    this.log(`  ${method} ${url} -> ${res.status}${loc ? ` Location: ${loc}` : ""}`);
    return { url, status: res.status, headers: res.headers, text };
  }

  async submit(page, form, extra) {
    const override = new Set(extra.map(([k]) => k));
    const data = [...successfulFields(form).filter(([k]) => !override.has(k)), ...extra];
    const action = new URL(form.action || page.url, page.url).toString();
    const body = new URLSearchParams(data).toString();
    if (form.method === "post") {
      return this.request("POST", action, {
        body,
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Origin: new URL(page.url).origin,
          Referer: page.url,
        },
      });
    }
    return this.request("GET", action + (action.includes("?") ? "&" : "?") + body);
  }
}

export function describe(res, limit = 1500) {
  const hdrs = [...res.headers].map(([k, v]) => `  ${k}: ${v}`).join("\n");
  return `HTTP ${res.status} for ${res.url}\n${hdrs}\n  body: ${JSON.stringify(res.text.slice(0, limit))}`;
}

// ---------------------------------------------------------------------------------------
// The sign-in flow
// ---------------------------------------------------------------------------------------

/**
 * Walk redirects, login and consent pages from startUrl.
 * Returns {url, res, seen}: res is null when stop(url) became true (that URL was not fetched),
 * otherwise the first page that is neither a redirect nor a known form; seen counts the
 * login and consent forms submitted.
 */
export async function signIn(browser, startUrl, { username, password, stop = () => false, decision = "allow" }) {
  let url = startUrl;
  let res = null;
  const seen = { login: 0, consent: 0 };
  for (let i = 0; i < MAX_STEPS; i++) {
    if (stop(url)) return { url, res: null, seen };
    if (!res) res = await browser.request("GET", url);
    if ([301, 302, 303, 307, 308].includes(res.status)) {
      const loc = res.headers.get("location");
      if (!loc) throw new FlowError("redirect without Location:\n" + describe(res));
      url = new URL(loc, res.url).toString();
      res = null;
      continue;
    }
    const ctype = res.headers.get("content-type") || "";
    if (res.status !== 200 || !ctype.includes("html")) return { url: res.url, res, seen };
    const forms = parseForms(res.text);
    const login = forms.find((f) => f.fields.some((x) => x.name === "password"));
    const consent = forms.find((f) => f.fields.some((x) => x.name === "decision" && x.type === "submit"));
    if (login) {
      if (++seen.login > 2) throw new FlowError("login form shown again after submitting it (bad credentials?):\n" + describe(res));
      res = await browser.submit(res, login, [
        ["username", username],
        ["password", password],
      ]);
    } else if (consent) {
      if (++seen.consent > 2) throw new FlowError("consent form shown again after submitting it:\n" + describe(res));
      const values = consent.fields.filter((x) => x.name === "decision" && x.type === "submit").map((x) => x.value);
      if (!values.includes(decision)) throw new FlowError(`consent form has no decision=${decision} button (has ${values}):\n` + describe(res));
      res = await browser.submit(res, consent, [["decision", decision]]);
    } else {
      return { url: res.url, res, seen };
    }
    url = res.url;
  }
  throw new FlowError(`no end to the redirect chain after ${MAX_STEPS} steps (last: ${url})`);
}
