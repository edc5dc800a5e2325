// npm run bench: runs every bench/*.mjs (except this file) one after another, then every
// bench/*.bench.ts with vitest as the runner (bench/vitest.config.ts: TypeScript benches that
// use the test doubles in test/fakes). `node bench/run.mjs NAME` runs only the files whose
// name contains NAME.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const dir = import.meta.dirname;
const root = path.resolve(dir, '..');
const only = process.argv[2];
const wanted = (f) => !only || f.includes(only);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs' && wanted(f))
  .sort();
const tsBenches = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts') && wanted(f))
  .sort();
let failed = 0;
for (const f of files) {
  console.log(`\n## ${f}`);
  const r = spawnSync(process.execPath, [path.join(dir, f)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
const vitest = path.join(root, 'node_modules/vitest/vitest.mjs');
for (const f of tsBenches) {
  console.log(`\n## ${f}`);
  const r = spawnSync(
    process.execPath,
    [vitest, 'run', '--config', 'bench/vitest.config.ts', '--reporter=dot', `bench/${f}`],
    { stdio: 'inherit', cwd: root },
  );
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
