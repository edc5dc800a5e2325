import { execFileSync } from 'node:child_process';

/** End-to-end tests spawn the built CLI: build it once (incremental, fast when up to date). */
export default function setup(): void {
  if (process.env.CHATOPS_TEST_SKIP_BUILD === '1') return;
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
}
