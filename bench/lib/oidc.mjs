#!/usr/bin/env node
// Drives a provider's browser pages and endpoints headlessly, for Doorway and for the peer
// (panva/oidc-provider with devInteractions). Endpoints come from the discovery document.
//
//   node oidc.mjs session            sign in (login + consent), redeem one code; prints JSON:
//                                     {cookie, access_token, refresh_token, id_token, userinfo}
//   node oidc.mjs flows SECONDS C    the remembered-consent sign-in flow for SECONDS, C workers:
//                                     authorize (signed-in session, consent remembered) -> code
//                                     -> token (PKCE) -> userinfo; each worker signs in once first,
//                                     untimed. Prints one JSON line of figures.
//
// Env: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI (http://127.0.0.1:9/cb),
//      SCOPE ("openid profile email"), BENCH_USER, BENCH_PASSWORD; SERVER_PID and CLK_TCK: the
//      server's CPU time over the timed part alone (the workers' sign-ins are not in it).
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';

const ISSUER = process.env.ISSUER || 'http://127.0.0.1:18080';
const CLIENT_ID = process.env.CLIENT_ID;
const CLIENT_SECRET = process.env.CLIENT_SECRET;
const REDIRECT_URI = process.env.REDIRECT_URI || 'http://127.0.0.1:9/cb';
const SCOPE = process.env.SCOPE || 'openid profile email';
const USER = process.env.BENCH_USER || 'benchuser';
const PASSWORD = process.env.BENCH_PASSWORD || '';
const basic = 'Basic ' + Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64');
const b64u = (b) => b.toString('base64url');
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const serverCpu = () => {
  if (!process.env.SERVER_PID) return null;
  const stat = readFileSync(`/proc/${process.env.SERVER_PID}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / Number(process.env.CLK_TCK || 100);  // utime + stime
};

class Jar {
  constructor() { this.c = new Map(); }
  store(headers) {
    for (const sc of [].concat(headers['set-cookie'] || [])) {
      const [pair] = sc.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim(); const val = pair.slice(i + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(sc) || /max-age=0\b/i.test(sc) || val === '') this.c.delete(name); else this.c.set(name, val);
    }
  }
  get(name) { return this.c.get(name); }
  header() { return [...this.c].map(([k, v]) => `${k}=${v}`).join('; '); }
}

// One HTTP request on the keep-alive agent; no redirects followed.
function request(url, { method = 'GET', headers = {}, body, jar } = {}) {
  const u = new URL(url, ISSUER);
  const h = { ...headers };
  if (jar) { const ck = jar.header(); if (ck) h.cookie = ck; }
  if (body !== undefined) { h['content-type'] ||= 'application/x-www-form-urlencoded'; h['content-length'] = Buffer.byteLength(body); }
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: h }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (jar) jar.store(res.headers);
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), loc: res.headers.location });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const form = (o) => new URLSearchParams(o).toString();
const hidden = (html, name) => new RegExp(`name="${name}"[^>]*value="([^"]*)"`).exec(html)?.[1];
const decode = (s) => s?.replace(/&amp;/g, '&').replace(/&#x2f;/gi, '/').replace(/&#x3d;/gi, '=');
let META;
async function meta() {
  if (!META) {
    const r = await request('/.well-known/openid-configuration');
    if (r.status !== 200) throw new Error(`discovery: ${r.status}`);
    META = JSON.parse(r.body);
  }
  return META;
}

function authRequest() {
  const verifier = b64u(randomBytes(32));
  const challenge = b64u(createHash('sha256').update(verifier).digest());
  const state = b64u(randomBytes(12)); const nonce = b64u(randomBytes(12));
  const q = new URLSearchParams({ client_id: CLIENT_ID, response_type: 'code', scope: SCOPE, redirect_uri: REDIRECT_URI,
    code_challenge: challenge, code_challenge_method: 'S256', state, nonce });
  return { verifier, state, nonce, q };
}

// Follows the authorization request through whatever pages the server shows (Doorway's
// /login and consent form, or oidc-provider's devInteractions), until the redirect to the app.
async function authorizeInteractive(jar) {
  const m = await meta();
  const a = authRequest();
  let r = await request(`${m.authorization_endpoint}?${a.q}`, { jar });
  let pages = 0;
  for (let guard = 0; guard < 12; guard++) {
    if (r.status >= 300 && r.status < 400) {
      if (r.loc.startsWith(REDIRECT_URI)) break;
      r = await request(r.loc, { jar });
      continue;
    }
    if (r.status !== 200) throw new Error(`authorize: status ${r.status}: ${r.body.slice(0, 300)}`);
    pages++;
    const html = r.body;
    const action = decode(/<form[^>]*action="([^"]*)"/.exec(html)?.[1]);
    const prompt = hidden(html, 'prompt');
    if (prompt) {                                                        // oidc-provider devInteractions
      const body = prompt === 'login' ? form({ prompt, login: USER, password: PASSWORD || 'x' }) : form({ prompt });
      r = await request(action, { method: 'POST', jar, body });
    } else if (/name="decision"/.test(html)) {                           // Doorway consent
      r = await request(action || '/oauth/consent', { method: 'POST', jar,
        body: form({ csrf_token: hidden(html, 'csrf_token'), interaction: hidden(html, 'interaction'), decision: 'allow' }) });
    } else if (/name="password"/.test(html)) {                           // Doorway login
      const f = { csrf_token: hidden(html, 'csrf_token'), username: USER, password: PASSWORD };
      const interaction = hidden(html, 'interaction'); if (interaction) f.interaction = interaction;
      r = await request(action || '/login', { method: 'POST', jar, body: form(f) });
      if (r.status === 400) throw new Error('login refused (wrong BENCH_USER/BENCH_PASSWORD?)');
    } else {
      throw new Error(`unrecognised page: ${html.slice(0, 300)}`);
    }
  }
  return { ...a, ...callback(r, a.state), pages };
}

function callback(r, state) {
  if (!(r.status >= 300 && r.status < 400) || !r.loc?.startsWith(REDIRECT_URI)) {
    throw new Error(`expected a redirect to the app, got ${r.status} ${r.loc || r.body.slice(0, 200)}`);
  }
  const cb = new URL(r.loc);
  if (cb.searchParams.get('error')) throw new Error(`authorization error: ${r.loc}`);
  if (cb.searchParams.get('state') !== state) throw new Error('state mismatch');
  const code = cb.searchParams.get('code'); if (!code) throw new Error(`no code: ${r.loc}`);
  return { code };
}

async function redeem(code, verifier) {
  const m = await meta();
  const r = await request(m.token_endpoint, { method: 'POST', headers: { authorization: basic },
    body: form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }) });
  if (r.status !== 200) throw new Error(`token: ${r.status} ${r.body.slice(0, 300)}`);
  const t = JSON.parse(r.body);
  if (!t.access_token || !t.id_token || t.token_type?.toLowerCase() !== 'bearer') throw new Error(`token response lacks fields: ${r.body.slice(0, 300)}`);
  return t;
}

async function userinfo(accessToken) {
  const m = await meta();
  const r = await request(m.userinfo_endpoint, { headers: { authorization: `Bearer ${accessToken}` } });
  if (r.status !== 200) throw new Error(`userinfo: ${r.status} ${r.body.slice(0, 200)}`);
  const u = JSON.parse(r.body); if (!u.sub) throw new Error(`userinfo without sub: ${r.body}`);
  return u;
}

// One remembered-consent flow: the session is signed in and consent was given before.
async function flow(jar) {
  const m = await meta();
  const a = authRequest();
  const r = await request(`${m.authorization_endpoint}?${a.q}`, { jar });
  const { code } = callback(r, a.state);
  const t = await redeem(code, a.verifier);
  await userinfo(t.access_token);
}

const cmd = process.argv[2];
if (cmd === 'session') {
  const jar = new Jar();
  const first = await authorizeInteractive(jar);
  const t = await redeem(first.code, first.verifier);
  const u = await userinfo(t.access_token);
  // A second authorization must now go straight to the app (consent remembered).
  const again = await authorizeInteractive(jar);
  if (again.pages !== 0) throw new Error('consent was not remembered: the second authorization showed a page');
  console.log(JSON.stringify({ cookie: jar.header(), access_token: t.access_token, refresh_token: t.refresh_token || null,
    id_token: t.id_token, userinfo: u, pages_first: first.pages }));
} else if (cmd === 'flows') {
  const SECONDS = Number(process.argv[3] || 10); const C = Number(process.argv[4] || 1);
  const jars = [];
  for (let w = 0; w < C; w++) { const jar = new Jar(); const a = await authorizeInteractive(jar); await redeem(a.code, a.verifier); jars.push(jar); }
  for (const jar of jars) await flow(jar); // warm-up
  const lat = []; let errors = 0; let firstError = null;
  const cpu0 = serverCpu(); const t0 = performance.now(); const end = t0 + SECONDS * 1000;
  await Promise.all(jars.map(async (jar) => {
    while (performance.now() < end) {
      const s = performance.now();
      try { await flow(jar); lat.push(performance.now() - s); } catch (e) { errors++; firstError ||= e.message; }
    }
  }));
  const el = (performance.now() - t0) / 1000; const cpu1 = serverCpu();
  lat.sort((a, b) => a - b);
  const pct = (p) => +(lat[Math.min(lat.length - 1, Math.floor(p / 100 * lat.length))] ?? NaN).toFixed(3);
  console.log(JSON.stringify({ flows: lat.length, errors, first_error: firstError, concurrency: C, seconds: +el.toFixed(3),
    flows_per_s: +(lat.length / el).toFixed(1), http_requests_per_flow: 3,
    server_cpu_s: cpu0 === null ? null : +(cpu1 - cpu0).toFixed(2), lat_p50_ms: pct(50), lat_p90_ms: pct(90), lat_p99_ms: pct(99) }));
} else {
  console.error('usage: oidc.mjs session | flows SECONDS C'); process.exit(2);
}
agent.destroy();
