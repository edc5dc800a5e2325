/**
 * `npm run lab`: the local lab on loopback and the config that points the bot at it.
 *
 *   npm run lab                     start it; Ctrl-C (SIGINT) or SIGTERM stops everything it started
 *   npm run lab -- --alert          send a sample alert through the running lab's Alertmanager
 *   npm run lab -- --dir DIR        keep its config and files in DIR (default .chatops/lab)
 */
import path from 'node:path';
import { sendSampleAlert } from './send-alert.js';
import { startLab } from './start-lab.js';

const USAGE = `Usage: npm run lab [-- --dir DIR] | npm run lab -- --alert [--dir DIR]
Starts the local lab (sshd nodes, Kubernetes API with Argo CD and Longhorn, Pi-holes,
Alertmanager, restic repositories) on loopback and writes DIR/config.yaml (DIR: .chatops/lab).
--alert sends a sample alert through the running lab's Alertmanager.
`;

const out = (line = '') => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

function parseArgs(argv: string[]): { dir: string; alert: boolean; help: boolean } {
  const args = { dir: path.join('.chatops', 'lab'), alert: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--alert') args.alert = true;
    else if (a === '--help' || a === '-h') args.help = true;
    else if (a === '--dir' && argv[i + 1]) args.dir = argv[++i]!;
    else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  return args;
}

/**
 * Resolves on the first SIGINT or SIGTERM and aborts `abort` at once (synchronously, before the
 * test helpers' own signal hooks run: this listener is the first). Listening from the start, so
 * none is missed.
 */
function stopSignal(abort: AbortController): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM'] as const) {
      process.on(s, () => {
        abort.abort();
        resolve(s);
      });
    }
  });
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    out(USAGE);
    return 0;
  }
  const configFile = path.join(args.dir, 'config.yaml');
  if (args.alert) {
    out(await sendSampleAlert(configFile));
    return 0;
  }
  const abort = new AbortController();
  const signal = stopSignal(abort);
  out('Starting the local lab on loopback…');
  const lab = await startLab({
    dir: args.dir,
    say: (line) => out(`  ${line}`),
    signal: abort.signal,
  });
  if (!abort.signal.aborted) {
    out(`  config    ${configFile}`);
    out();
    out('Start the bot against it (in another terminal):');
    out();
    out(`  npm start -- --config ${configFile}`);
    out();
    out('Then try /node reboot pi4-a, /argo sync home-assistant, /pihole disable 5m,');
    out(`/backup run pi1, /task add "Replace the SD card" node:pi3 — and send an alert with`);
    out(
      `npm run lab -- --alert${args.dir === path.join('.chatops', 'lab') ? '' : ` --dir ${args.dir}`}.`,
    );
    out('Ctrl-C stops the lab and everything it started.');
  }
  const s = await signal;
  out(`\n${s}: stopping the lab…`);
  await lab.stop();
  out('The lab is stopped; nothing it started is running.');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    err(`lab: ${e.message}`);
    process.exit(1);
  },
);
