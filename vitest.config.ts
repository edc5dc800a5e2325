import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most files wait on real processes (sshd, Ansible, Alertmanager, git) rather than compute:
    // two at a time on a 2-core machine halves the suite (vitest's default is cores - 1 = 1).
    maxWorkers: 2,
  },
});
