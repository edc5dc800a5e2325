// What the first commands that need the Kubernetes client (`@kubernetes/client-node`) and ssh2
// (`node-ssh`) add to the bot's resident memory. Both are loaded on first use, not at start-up
// (test/core/architecture.test.ts), so the idle figure does not include them: this measures
// the real bot (the built CLI, dist/src/main.js, as a child process: test/helpers/bot-process.ts)
// in test/helpers/bot-lab.ts — a real sshd per node on loopback, the fake Kubernetes API with
// simulated kubelets and two Argo CD applications, the fake Discord; alice (admin) in #ops.
//
// Sequence, each reading of /proc/<pid>/status (VmRSS = resident now, RssAnon = heap and other
// private memory, RssFile = mapped files such as the node binary, VmHWM = peak resident) taken
// after BENCH_IDLE_MS of idling:
// 1. idle: ready, Kubernetes and SSH configured, nothing used yet;
// 2. after `/node status` (all 3 nodes): SSH to every node, and the K3s state of each from the
//    Kubernetes API when that is configured. Its final answer ("3 nodes up") is awaited;
// 3. after `/argo list`: the Kubernetes API only (Application resources), answer awaited.
// The first command that needs either library calls Services.nodeOps() (src/app-services.ts),
// which loads src/infra/ssh.js (node-ssh, ssh2) and src/infra/kube.js (@kubernetes/client-node)
// together, for whichever of the two is configured: with both configured, step 2 loads both and
// step 3 adds only the Argo CD code and the API call. BENCH_CONFIGURE=ssh or =kube leaves the
// other out of the bot's config, which splits the two (with ssh alone, /argo list answers that
// the Kubernetes API is not configured; with kube alone, /node status answers that SSH is not).
// Prints a summary and one JSON line; asserts only that every command got its final answer
// (the expected one for what is configured), never memory figures.
// Run with `npm run bench first-use` (or `node bench/run.mjs first-use` after a build).
//
// Env: BENCH_BOT_NODE_OPTIONS NODE_OPTIONS of the bot (e.g. the Deployment's
// `--max-old-space-size=256 --max-semi-space-size=2`), BENCH_IDLE_MS (2000) idle before each
// reading, BENCH_CONFIGURE (ssh,kube) which of the two the bot's config has, BENCH_TRACE_LOADS=1
// records every module the bot loads (a `--import` preload: module.registerHooks where Node has
// it, on Node 20 an off-thread module.register loader plus a CommonJS _compile wrapper) and
// prints the packages each step loaded first — the trace costs memory itself (on Node 20 a
// loader thread), so its figures are not the plain ones.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { type BotLab, startBotLab } from '../test/helpers/bot-lab.js';
import type { LabNodeSpec } from '../test/helpers/ssh-lab.js';

const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 2000);
const BOT_NODE_OPTIONS = process.env.BENCH_BOT_NODE_OPTIONS ?? '';
const CONFIGURE = new Set((process.env.BENCH_CONFIGURE ?? 'ssh,kube').split(',').filter(Boolean));
const TRACE = process.env.BENCH_TRACE_LOADS === '1';
const ANSWER_TIMEOUT_MS = 30_000;

const NODES: LabNodeSpec[] = [
  { name: 'x86', os: 'nixos', roles: ['control-plane'], k3sName: 'x86' },
  { name: 'pi5', os: 'raspios', roles: ['worker'], k3sName: 'pi5' },
  { name: 'pi4-a', os: 'raspios', roles: ['worker'], k3sName: 'pi4-a' },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r2 = (x: number) => Math.round(x * 100) / 100;
/** 1/5/15-minute load averages: other work on the machine makes the figures noisy. */
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

interface Memory {
  rssMb: number;
  anonMb: number;
  fileMb: number;
  hwmMb: number;
}

function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return {
    rssMb: r2(kb('VmRSS') / 1024),
    anonMb: r2(kb('RssAnon') / 1024),
    fileMb: r2(kb('RssFile') / 1024),
    hwmMb: r2(kb('VmHWM') / 1024),
  };
}

/** The `--import` preload that appends the URL of every module the bot loads to `out`. */
function traceHook(out: string): string {
  const file = JSON.stringify(out);
  const offThread = `import { appendFileSync } from 'node:fs';
export async function load(url, context, nextLoad) {
  if (!url.startsWith('node:')) appendFileSync(${file}, url + '\\n');
  return nextLoad(url, context);
}`;
  return `import { appendFileSync } from 'node:fs';
import Module from 'node:module';
import { pathToFileURL } from 'node:url';
const log = (url) => { if (!url.startsWith('node:')) appendFileSync(${file}, url + '\\n'); };
if (Module.registerHooks) {
  Module.registerHooks({ load(url, context, nextLoad) { log(url); return nextLoad(url, context); } });
} else {
  Module.register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(offThread)}`)});
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content, filename) {
    log(pathToFileURL(filename).href);
    return compile.call(this, content, filename);
  };
}
`;
}

/** `@scope/name` or `name` for a module under node_modules, else its path under dist/. */
function moduleLabel(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const [a, b] = url.slice(nm + '/node_modules/'.length).split('/');
    return a!.startsWith('@') ? `${a}/${b}` : a!;
  }
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + '/dist/'.length) : url;
}

let botLab: BotLab | undefined;
let dir: string | undefined;
const savedNodeOptions = process.env.CHATOPS_TEST_BOT_NODE_OPTIONS;

afterAll(async () => {
  await botLab?.stop();
  if (savedNodeOptions === undefined) delete process.env.CHATOPS_TEST_BOT_NODE_OPTIONS;
  else process.env.CHATOPS_TEST_BOT_NODE_OPTIONS = savedNodeOptions;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('resident memory the first SSH and Kubernetes commands add to the bot', async () => {
  const loadAtStart = loadavg();
  dir = mkdtempSync(path.join(tmpdir(), 'bench-first-use-'));
  const traceFile = path.join(dir, 'loads.txt');
  let nodeOptions = BOT_NODE_OPTIONS;
  if (TRACE) {
    const hook = path.join(dir, 'trace-loads.mjs');
    writeFileSync(hook, traceHook(traceFile));
    writeFileSync(traceFile, '');
    nodeOptions = `${nodeOptions} --import ${pathToFileURL(hook).href}`.trim();
  }
  // BotProcess passes this on as the bot's NODE_OPTIONS (its environment is fixed otherwise).
  if (nodeOptions) process.env.CHATOPS_TEST_BOT_NODE_OPTIONS = nodeOptions;
  else delete process.env.CHATOPS_TEST_BOT_NODE_OPTIONS;

  botLab = await startBotLab(NODES, {
    kube: {
      applications: [
        { name: 'home-assistant', syncStatus: 'Synced', health: 'Healthy', revision: 'v1' },
        { name: 'grafana', syncStatus: 'Synced', health: 'Healthy', revision: 'v3' },
      ],
    },
    // Left out of the config: `undefined` replaces the lab's section (yaml drops the key).
    config: {
      ...(CONFIGURE.has('ssh') ? {} : { ssh: undefined }),
      ...(CONFIGURE.has('kube') ? {} : { kube: undefined }),
    },
  });
  const { discord, bot, alice, ops } = botLab;
  const pid = bot.pid;
  if (pid === undefined) throw new Error(`the bot is not running:\n${bot.stderr}`);

  /** Trace lines seen so far, at each mark: the modules loaded between two marks. */
  const marks: number[] = [];
  const traceLines = () => (TRACE ? readFileSync(traceFile, 'utf8').split('\n').slice(0, -1) : []);
  const mark = () => marks.push(traceLines().length);

  await sleep(IDLE_MS);
  const idle = memory(pid);
  mark();

  /** Sends the command, waits for its final answer (not a "…" progress title), then idles. */
  async function step(subcommandOf: string, subcommand: string, expected: RegExp | undefined) {
    const t0 = Date.now();
    const i = await discord.slashCommand({
      user: alice,
      channelId: ops,
      name: subcommandOf,
      subcommand,
    });
    const answered = await discord.waitFor(() => {
      const v = discord.interactionResponse(i);
      const title = String(v.embeds[0]?.title ?? v.content ?? '');
      return v.acknowledged && title && !title.endsWith('…') ? v : undefined;
    }, ANSWER_TIMEOUT_MS);
    const answerMs = Date.now() - t0;
    const view = answered!; // waitFor throws (with a dump of the fake) when there is none
    const title = String(view.embeds[0]?.title ?? view.content ?? '');
    await sleep(IDLE_MS);
    const mem = memory(pid!);
    mark();
    return {
      command: `/${subcommandOf} ${subcommand}`,
      answer: title,
      answerMs,
      ok: expected ? expected.test(title) : !view.timedOut,
      ...mem,
    };
  }

  const afterNodeStatus = await step(
    'node',
    'status',
    CONFIGURE.has('ssh') ? /^3 nodes up$/ : undefined,
  );
  const afterArgoList = await step(
    'argo',
    'list',
    CONFIGURE.has('kube') ? /^2 Argo CD applications$/ : undefined,
  );

  // Which packages (and how many of the bot's own modules) each phase loaded first.
  const lines = traceLines();
  const seen = new Set<string>();
  const seenPackages = new Set<string>();
  const phases = ['startup', 'nodeStatus', 'argoList'].map((name, k) => {
    const packages = new Set<string>();
    /** Packages loaded in an earlier phase of which this one loaded more modules. */
    const moreOf = new Set<string>();
    const own: string[] = [];
    for (const url of lines.slice(k === 0 ? 0 : marks[k - 1], marks[k])) {
      if (seen.has(url)) continue;
      seen.add(url);
      const label = moduleLabel(url);
      if (!url.includes('/node_modules/')) own.push(label);
      else if (!seenPackages.has(label) || packages.has(label)) packages.add(label);
      else moreOf.add(label);
    }
    for (const p of packages) seenPackages.add(p);
    return {
      phase: name,
      packages: [...packages].sort(),
      moreOf: [...moreOf].sort(),
      ownModules: own,
    };
  });

  const problems = bot.stderr
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return { raw: l };
      }
    })
    .filter((l) => typeof l.level !== 'number' || l.level >= 40);

  const delta = (m: Memory) => ({
    rssMb: r2(m.rssMb - idle.rssMb),
    anonMb: r2(m.anonMb - idle.anonMb),
  });
  const result = {
    bench: 'first-use',
    node: process.version,
    botNodeOptions: BOT_NODE_OPTIONS,
    configured: [...CONFIGURE],
    traced: TRACE,
    idleMs: IDLE_MS,
    idle,
    afterNodeStatus,
    afterArgoList,
    afterNodeStatusDelta: delta(afterNodeStatus),
    afterArgoListDelta: delta(afterArgoList),
    argoListStepDelta: {
      rssMb: r2(afterArgoList.rssMb - afterNodeStatus.rssMb),
      anonMb: r2(afterArgoList.anonMb - afterNodeStatus.anonMb),
    },
    ...(TRACE ? { loads: phases } : {}),
    warnOrErrorLines: problems.length,
    loadavgAtStart: loadAtStart,
    loadavgAtEnd: loadavg(),
  };
  const fmt = (m: Memory) =>
    `RSS ${m.rssMb} MB (RssAnon ${m.anonMb}, RssFile ${m.fileMb}, HWM ${m.hwmMb})`;
  const signed = (x: number) => `${x >= 0 ? '+' : ''}${x}`;
  console.log(
    `first use, Node ${process.version}, configured: ${[...CONFIGURE].join(' + ')}` +
      `${BOT_NODE_OPTIONS ? `, NODE_OPTIONS ${BOT_NODE_OPTIONS}` : ''}${TRACE ? ', module-load trace on' : ''}`,
  );
  console.log(`  idle (nothing used yet):  ${fmt(idle)}`);
  console.log(
    `  after ${afterNodeStatus.command} ("${afterNodeStatus.answer}", ${afterNodeStatus.answerMs} ms): ${fmt(afterNodeStatus)}; ` +
      `${signed(result.afterNodeStatusDelta.rssMb)} MB RSS, ${signed(result.afterNodeStatusDelta.anonMb)} MB RssAnon over idle`,
  );
  console.log(
    `  after ${afterArgoList.command} ("${afterArgoList.answer}", ${afterArgoList.answerMs} ms): ${fmt(afterArgoList)}; ` +
      `${signed(result.afterArgoListDelta.rssMb)} MB RSS, ${signed(result.afterArgoListDelta.anonMb)} MB RssAnon over idle ` +
      `(${signed(result.argoListStepDelta.rssMb)} / ${signed(result.argoListStepDelta.anonMb)} MB over the previous step)`,
  );
  if (TRACE)
    for (const p of phases)
      console.log(
        `  loaded during ${p.phase}: ${p.packages.join(', ') || 'no packages'}` +
          (p.moreOf.length ? `; more modules of ${p.moreOf.join(', ')}` : '') +
          `; ${p.ownModules.length} of the bot's modules` +
          (p.phase === 'startup' || !p.ownModules.length ? '' : ` (${p.ownModules.join(', ')})`),
      );
  console.log(
    `  ${problems.length} warn/error lines in the bot's log; load average ${loadAtStart.join(' ')} → ` +
      `${result.loadavgAtEnd.join(' ')} (${cpus().length} CPUs)`,
  );
  for (const p of problems.slice(0, 5)) console.log(`  bot: ${JSON.stringify(p).slice(0, 300)}`);
  console.log(JSON.stringify(result));

  expect({ nodeStatus: afterNodeStatus.ok, argoList: afterArgoList.ok }).toEqual({
    nodeStatus: true,
    argoList: true,
  });
});
