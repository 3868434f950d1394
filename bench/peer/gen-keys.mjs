// Writes jwks.json (private RS256-2048, ES256 and EdDSA keys) once; reused across runs.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync, existsSync } from 'node:fs';
const out = new URL('./jwks.json', import.meta.url);
if (existsSync(out)) process.exit(0);
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
writeFileSync(out, JSON.stringify({ keys: [
  { ...rsa, kid: 'rs256-1', use: 'sig', alg: 'RS256' },
  { ...ec, kid: 'es256-1', use: 'sig', alg: 'ES256' },
  { ...ed, kid: 'eddsa-1', use: 'sig', alg: 'EdDSA' },
] }, null, 2));
