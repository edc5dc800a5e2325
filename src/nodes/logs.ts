/** /node logs: a systemd unit's journal on a node, read over SSH with sudo. */
import type { CommandContext } from '../core/context.js';
import { UserError } from '../core/errors.js';
import type { Reply } from '../core/reply.js';
import { requireSsh, sshTarget } from './node-ops.js';

/** systemd unit names: letters, digits and @._:- only (never passed through a shell anyway). */
export const UNIT = /^[A-Za-z0-9@._:-]{1,128}$/;

export type LogsArgs = { node: string; unit: string; lines?: number };

/** What /node logs runs on the node. */
export const journalArgv = ({ unit, lines }: LogsArgs) => [
  'sudo',
  '-n',
  'journalctl',
  '-u',
  unit,
  '-n',
  String(lines ?? 50),
  '--no-pager',
  '-o',
  'short-iso',
];

export async function readJournal(ctx: CommandContext<LogsArgs>): Promise<Reply> {
  const node = ctx.inventory.node(ctx.args.node);
  const ssh = requireSsh(await ctx.services.nodeOps(), `Reading logs on ${node.name}`, {
    readOnly: true,
  });
  const lines = ctx.args.lines ?? 50;
  const r = await ssh.exec(sshTarget(node), journalArgv(ctx.args), { signal: ctx.signal });
  if (r.code !== 0) {
    throw new UserError(
      `journalctl on ${node.name} exited with ${r.code}.`,
      r.stderr.trim().slice(0, 500) || undefined,
    );
  }
  return {
    title: `${ctx.args.unit} on ${node.name} (last ${lines} lines)`,
    code: r.stdout.trimEnd() || '(no entries)',
  };
}
