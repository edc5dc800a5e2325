import { describe, expect, it } from 'vitest';
import { renderMatrix, renderMatrixStep } from '../../src/chat/matrix/render.js';

describe('Matrix renderer (golden)', () => {
  it('renders a proposal as a notice with HTML and an equivalent plain body', async () => {
    const content = renderMatrix(
      {
        severity: 'warning',
        title: 'Confirm: /node reboot pi4-a',
        text: 'Reboot `pi4-a` <now>: drain, reboot, uncordon.',
        code: '1. PATCH /api/v1/nodes/pi4-a {"spec":{"unschedulable":true}}\n2. ssh pi@10.0.0.21 -- sudo systemctl reboot',
        fields: [{ name: 'Before you confirm', value: 'pi5 runs this bot & more' }],
        confirm: { code: 'K7Q2XM', expiresAt: 1_060_000 },
      },
      { now: 1_000_000, prefix: '!' },
    );
    await expect(JSON.stringify(content, null, 2)).toMatchFileSnapshot(
      'golden/matrix-proposal.json',
    );
    expect(content.formatted_body).not.toContain('<now>');
    expect(content.body).toContain('!confirm K7Q2XM');
  });

  it('escapes HTML in step lines', () => {
    expect(renderMatrixStep('evicted <pod> & co')).toMatchObject({
      body: '› evicted <pod> & co',
      formatted_body: '› evicted &lt;pod&gt; &amp; co',
    });
  });
});
