// Rebuilds dist/ when any source is newer than the build (npm test / npm start run this first).
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
const outputs = ['dist/snapgrad.simd.wasm', 'dist/snapgrad.simd-threads.wasm', 'dist/snapgrad.worker.js', 'dist/snapgrad.js', 'dist/snapgrad.browser.js', 'dist/types/index.d.ts'].map((p) => join(root, p));
const inputs = ['assembly', 'src', 'asconfig.json', 'package.json', 'tsconfig.json'].map((p) => join(root, p));

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const entry of readdirSync(path)) m = Math.max(m, newest(join(path, entry)));
  return m;
}

const stale = outputs.some((p) => !existsSync(p)) ||
  Math.max(...inputs.map(newest)) > Math.min(...outputs.map((p) => statSync(p).mtimeMs));
if (stale || process.argv.includes('--force')) {
  console.log('building snapgrad (wasm, bundle, types)...');
  execSync('npm run --silent build', { cwd: root, stdio: 'inherit' });
}
