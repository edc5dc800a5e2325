import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Before any test: the real parts the tests run are installed (scripts/test-parts.mjs installs
 * the missing ones, or stops with the command to run), then the CLI the end-to-end tests spawn
 * is built (incremental, fast when up to date).
 */
export default function setup(): void {
  const parts = spawnSync(
    process.execPath,
    [fileURLToPath(new URL('../scripts/test-parts.mjs', import.meta.url))],
    { stdio: 'inherit' },
  );
  // The script printed the one message that says what to install: end here, without a trace.
  if (parts.status !== 0) process.exit(parts.status ?? 1);
  if (process.env.CHATOPS_TEST_SKIP_BUILD === '1') return;
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
}
