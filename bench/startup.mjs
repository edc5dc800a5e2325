// Start-up to ready and idle memory of the bot with the built-in demo config.
// Spawns the built CLI (dist/), waits for its "ready" log line, then samples RSS after it
// has been idle for a moment. Prints a summary and one JSON line.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const cli = path.resolve(import.meta.dirname, '../dist/src/main.js');

function once() {
  return new Promise((resolve, reject) => {
    const state = mkdtempSync(path.join(tmpdir(), 'chatops-bench-'));
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, [cli], {
      env: {
        PATH: process.env.PATH,
        CHATOPS_STATE_DIR: state,
        CHATOPS_HTTP_PORT: '0',
        CHATOPS_LOG_LEVEL: 'info',
      },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      if (!err.includes('"msg":"ready"') || child.readyMs) return;
      child.readyMs = Number(process.hrtime.bigint() - t0) / 1e6;
      setTimeout(() => {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
        child.kill('SIGTERM');
        child.on('close', () => resolve({ readyMs: child.readyMs, rssMb: rssKb / 1024 }));
      }, 1500);
    });
    child.on('error', reject);
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const results = [];
for (let i = 0; i < RUNS; i++) results.push(await once());
const ready = results.map((r) => r.readyMs);
const rss = results.map((r) => r.rssMb);
const summary = {
  bench: 'startup',
  node: process.version,
  runs: RUNS,
  readyMedianMs: Math.round(median(ready)),
  readyMaxMs: Math.round(Math.max(...ready)),
  idleRssMedianMb: Math.round(median(rss) * 10) / 10,
  idleRssMaxMb: Math.round(Math.max(...rss) * 10) / 10,
};
console.log(
  `start-up to ready (demo config, ${RUNS} runs, ${process.version}): median ${summary.readyMedianMs} ms, max ${summary.readyMaxMs} ms; idle RSS median ${summary.idleRssMedianMb} MB, max ${summary.idleRssMaxMb} MB`,
);
console.log(JSON.stringify(summary));
