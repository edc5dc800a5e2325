// Vitest as a runner for benchmarks written in TypeScript (they use the test doubles in
// test/fakes, which plain .mjs cannot import on Node 20). Not part of `npm test`: run through
// `npm run bench` (bench/run.mjs), or `npx vitest run --config bench/vitest.config.ts`.
// The bench files print figures; they assert correctness only, never timings.
import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: path.resolve(import.meta.dirname, '..'),
    include: ['bench/**/*.bench.ts'],
    // No globalSetup: run.mjs is started after `tsc -p tsconfig.build.json` (dist/ is built).
    testTimeout: 15 * 60_000,
    hookTimeout: 2 * 60_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    // Print the figures as they are, without vitest's "stdout | file > test" prefixes.
    disableConsoleIntercept: true,
  },
});
