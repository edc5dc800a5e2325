import { describe, expect, it } from 'vitest';
import { renderConsole, renderProgressLine, renderStep } from '../../src/chat/console/render.js';
import type { Reply } from '../../src/core/reply.js';

const proposal: Reply = {
  severity: 'warning',
  title: 'Confirm: /node reboot pi4-a',
  text: 'Reboot pi4-a: drain it, reboot it over SSH, wait until it is Ready, uncordon it.\nThis is what will happen:',
  code: '1. PATCH /api/v1/nodes/pi4-a {"spec":{"unschedulable":true}} (cordon)\n2. ssh -p 22 pi@10.0.0.21 -- sudo systemctl reboot',
  fields: [{ name: 'Before you confirm', value: 'pi5 runs this bot.\nThe API is down meanwhile.' }],
  confirm: { code: 'K7Q2XM', expiresAt: 1_060_000 },
  buttons: [
    { id: 'confirm:K7Q2XM', label: 'Confirm', style: 'danger' },
    { id: 'cancel:K7Q2XM', label: 'Cancel', style: 'secondary' },
  ],
};

describe('console renderer (golden)', () => {
  it('renders a proposal with plan, warnings and how to confirm', async () => {
    await expect(renderConsole(proposal, { now: 1_000_000 })).toMatchFileSnapshot(
      'golden/console-proposal.txt',
    );
  });

  it('renders an error with its hint, and fields on one line when short', async () => {
    const out = renderConsole({
      severity: 'error',
      title: 'pi9 is not in the inventory. Did you mean pi5?',
      text: 'Known nodes: x86, pi5',
      fields: [{ name: 'Node', value: 'pi9' }],
      footer: 'See /help node',
    });
    await expect(out).toMatchFileSnapshot('golden/console-error.txt');
  });

  it('renders progress as one status line and steps as log lines', () => {
    expect(
      renderProgressLine({
        title: 'Draining pi4-a',
        progress: { done: 2, total: 5, label: 'evicting' },
      }),
    ).toBe('… Draining pi4-a [####......] 2/5 evicting');
    expect(renderStep('cordoned pi4-a')).toBe('  › cordoned pi4-a');
  });
});
