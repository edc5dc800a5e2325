import type { Reply } from '../core/reply.js';
import { formatDown, notContinued, whatNow } from '../ops/interrupted.js';
import type { Resumer } from '../ops/resume.js';
import { type UpdateData, updateSummary } from './update.js';

/**
 * A rolling /node update the bot was running when it went down. The update itself does not go
 * on: no playbook is started on the next node by a process nobody asked. A Pi's reboot it had
 * started is its own operation, a step of the update (`parent`): that reboot is resumed first,
 * in the update's message and thread, and hands its answer here; the update then answers once,
 * for both — every node's result as a live update would have said it, the reboot's outcome, and
 * the nodes not touched, with what to run. A restart during the last node's reboot, finished,
 * leaves nothing undone: that update is answered as done.
 */
export function updateResumer(): Resumer {
  return {
    async run(op, report, ctx) {
      const r = op.record;
      const d = r.data as UpdateData;
      const list = (v?: string) => (v ? v.split(',').filter(Boolean) : []);
      const nodes = list(d.nodes);
      const reboot = ctx.nested.find((n) => n.record.kind === 'node.reboot');
      if (!reboot) {
        // Killed during a playbook run (or between nodes): where, what is done, what is not.
        const notYet = d.node ? nodes.slice(nodes.indexOf(d.node) + 1) : [];
        const untouched = notYet.length > 0 ? ` (${notYet.join(', ')} not touched)` : '';
        const at = !d.node
          ? undefined
          : d.phase === 'update.yml'
            ? `running update.yml on ${d.node}${untouched}`
            : `at ${d.node}, whose reboot had ended (its lines in the thread say how)${untouched}`;
        if (d.node) {
          const label =
            d.phase === 'update.yml' ? `update.yml on ${d.node}` : `reboot of ${d.node}`;
          r.step = { index: nodes.indexOf(d.node), total: nodes.length, label };
        }
        await ctx.interrupt(
          notContinued(r, ctx.downMs, at),
          d.node
            ? `The playbook is idempotent: /node update ${notYet.length === 0 ? d.node : r.target} runs it again.`
            : whatNow(r),
          d.lines ? [{ name: 'Nodes', value: d.lines }] : [],
        );
        return;
      }
      // The bot is stopping again before the reboot ended: the next start picks both up.
      if (!reboot.answer) return;
      const node = reboot.record.target;
      const notTouched = nodes.slice(nodes.indexOf(node) + 1);
      const lines = d.lines ? d.lines.split('\n') : [];
      const down = formatDown(ctx.downMs);
      const answer = reboot.answer;
      const rebooted = answer.severity === 'success';
      const notContinuedEither = reboot.record.status === 'interrupted';
      lines.push(
        rebooted
          ? `${node}: updated, then rebooted safely (it asked for a reboot; the bot restarted during the reboot, down about ${down}, and finished it)`
          : notContinuedEither
            ? `${node}: updated; the reboot it asked for was not continued after the restart`
            : `${node}: updated; the reboot it asked for failed after the restart: ${answer.title}`,
      );
      if (rebooted && notTouched.length === 0) {
        await op.finish();
        await report.done(updateSummary(nodes.length, lines, list(d.pending), list(d.unknown)));
        return;
      }
      // Stopped at this node: what its reboot left changed is what the update left changed.
      if (!rebooted) await op.note({ changed: reboot.record.changed });
      const at = nodes.indexOf(node);
      r.step = { index: at, total: nodes.length, label: `reboot of ${node} after its update` };
      const rs = reboot.record.step;
      await ctx.interrupt(
        [
          `The bot restarted (it was down about ${down}) while ${node} was rebooting after its update (step ${rs.index + 1} of ${rs.total} of the reboot: ${rs.label}).`,
          rebooted
            ? `The reboot went on after the restart and finished: ${answer.title}.`
            : notContinuedEither
              ? 'The reboot was not continued either.'
              : `The reboot went on after the restart and failed: ${answer.title}.`,
          notTouched.length > 0
            ? `The update was not continued: ${notTouched.join(', ')} not touched.`
            : '',
        ]
          .filter(Boolean)
          .join(' '),
        rebooted
          ? `To update ${notTouched.join(', ')}: /node update ${notTouched.length === 1 ? notTouched[0] : r.target} (the playbook is idempotent).`
          : undefined,
        [{ name: 'Nodes', value: lines.join('\n') }, ...rebootDetails(answer)],
      );
    },
  };
}

/** What the reboot's own answer said beyond its title (its state and what to run), as fields. */
function rebootDetails(answer: Reply): NonNullable<Reply['fields']> {
  return [
    ...(answer.text ? [{ name: 'The reboot', value: answer.text }] : []),
    ...(answer.fields ?? []).filter((f) => f.name !== 'Operation'),
  ];
}
