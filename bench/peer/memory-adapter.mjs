// In-memory storage for the peer: plain Maps, nothing persisted (Doorway persists to SQLite).
//
// Why not the library's own quick-start MemoryAdapter: it is an LRU capped at ~1000–2000
// entries (codes minted ahead of a timed run, and tokens counted for memory, would be evicted),
// and it recomputes a grant's expiry over all the grant's tokens on every write (O(tokens per
// grant), which degrades as one benchmark session accumulates tens of thousands of codes).
// This keeps the same semantics (expiry, consume, grant revocation, uid/userCode indexes) with
// O(1) operations, and sweeps expired entries every minute (like Doorway's purge job).
const store = new Map();      // "Model:id" -> { payload, exp (ms, or Infinity) }
const grants = new Map();     // grantId -> Set of "Model:id"
const uids = new Map();       // session uid -> session id
const userCodes = new Map();  // device user code -> id
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

const live = (entry) => (entry && entry.exp > Date.now() ? entry : undefined);

function unindex(key, payload) {
  if (payload.uid && uids.get(payload.uid) === key) uids.delete(payload.uid);
  if (payload.userCode && userCodes.get(payload.userCode) === key) userCodes.delete(payload.userCode);
  if (payload.grantId) grants.get(payload.grantId)?.delete(key);
}

setInterval(() => {
  const now = Date.now();
  for (const [key, entry] of store) if (entry.exp <= now) { store.delete(key); unindex(key, entry.payload); }
  for (const [id, members] of grants) if (members.size === 0) grants.delete(id);
}, 60_000).unref();

export default class MapAdapter {
  constructor(model) { this.model = model; }
  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const previous = store.get(key);
    if (previous) unindex(key, previous.payload);
    store.set(key, { payload, exp: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity });
    if (this.model === 'Session' && payload.uid) uids.set(payload.uid, key);
    if (payload.userCode) userCodes.set(payload.userCode, key);
    if (GRANTABLE.has(this.model) && payload.grantId) {
      let members = grants.get(payload.grantId);
      if (!members) grants.set(payload.grantId, (members = new Set()));
      members.add(key);
    }
  }

  async find(id) { return live(store.get(this.key(id)))?.payload; }
  async findByUid(uid) { const key = uids.get(uid); return key ? live(store.get(key))?.payload : undefined; }
  async findByUserCode(code) { const key = userCodes.get(code); return key ? live(store.get(key))?.payload : undefined; }
  async consume(id) { const e = store.get(this.key(id)); if (e) e.payload.consumed = Math.floor(Date.now() / 1000); }

  async destroy(id) {
    const key = this.key(id);
    const e = store.get(key);
    if (e) { store.delete(key); unindex(key, e.payload); }
  }

  async revokeByGrantId(grantId) {
    const members = grants.get(grantId);
    if (!members) return;
    grants.delete(grantId);
    for (const key of members) {
      const e = store.get(key);
      if (e) { store.delete(key); unindex(key, e.payload); }
    }
  }
}
