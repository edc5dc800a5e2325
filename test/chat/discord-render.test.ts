import { describe, expect, it } from 'vitest';
import { LIMITS, renderDiscord, renderSteps } from '../../src/chat/discord/render.js';
import { slashCommands } from '../../src/chat/discord/slash-commands.js';
import { loadCommands } from '../../src/core/registry.js';
import type { Reply } from '../../src/core/reply.js';

const proposal: Reply = {
  severity: 'warning',
  title: 'Confirm: /node reboot pi4-a',
  text: 'Reboot pi4-a: drain it, reboot it over SSH, wait until it is Ready, uncordon it.\nThis is what will happen:',
  code: '1. PATCH /api/v1/nodes/pi4-a {"spec":{"unschedulable":true}} (cordon)\n2. ssh -p 22 pi@10.0.0.21 -- sudo systemctl reboot',
  fields: [{ name: 'Before you confirm', value: 'pi5 runs this bot.' }],
  confirm: { code: 'K7Q2XM', expiresAt: 1_060_000 },
  buttons: [
    { id: 'confirm:K7Q2XM', label: 'Confirm', style: 'danger' },
    { id: 'cancel:K7Q2XM', label: 'Cancel', style: 'secondary' },
  ],
};

/** Everything Discord would check, so a test fails where Discord would answer 400. */
function assertWithinLimits(m: ReturnType<typeof renderDiscord>): void {
  expect((m.content ?? '').length).toBeLessThanOrEqual(LIMITS.content);
  let total = 0;
  for (const e of m.embeds) {
    expect((e.title ?? '').length).toBeLessThanOrEqual(LIMITS.title);
    expect((e.description ?? '').length).toBeLessThanOrEqual(LIMITS.description);
    expect((e.fields ?? []).length).toBeLessThanOrEqual(LIMITS.fields);
    for (const f of e.fields ?? []) expect(f.value.length).toBeLessThanOrEqual(LIMITS.fieldValue);
    total += (e.title ?? '').length + (e.description ?? '').length + (e.footer?.text.length ?? 0);
    total += (e.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0);
  }
  expect(total).toBeLessThanOrEqual(LIMITS.embedTotal);
  expect(m.components.length).toBeLessThanOrEqual(LIMITS.rows);
}

describe('Discord renderer (golden)', () => {
  it('renders a proposal as an embed with Confirm/Cancel buttons', async () => {
    const m = renderDiscord(proposal, { now: 1_000_000 });
    assertWithinLimits(m);
    await expect(JSON.stringify(m, null, 2)).toMatchFileSnapshot('golden/discord-proposal.json');
  });

  it('attaches output that does not fit instead of cutting it', () => {
    const code = Array.from({ length: 400 }, (_, i) => `line ${i}: ${'x'.repeat(30)}`).join('\n');
    const m = renderDiscord({ title: 'Playbook output', text: 'ok=12 changed=3', code });
    assertWithinLimits(m);
    expect(m.files).toEqual([{ name: 'output.txt', data: code }]);
    expect(m.embeds[0]!.description).toBe(
      'ok=12 changed=3\nFull output attached (output.txt, 400 lines).',
    );
  });

  it('keeps long titles, long field values and extra fields, in files', () => {
    const fields = Array.from({ length: 30 }, (_, i) => ({
      name: `f${i}`,
      value: i === 0 ? 'v'.repeat(2000) : `v${i}`,
    }));
    const m = renderDiscord({ title: 't'.repeat(300), fields });
    assertWithinLimits(m);
    expect(m.embeds[0]!.fields).toHaveLength(25);
    expect(m.embeds[0]!.description).toContain('t'.repeat(300).slice(0, 100));
    const fieldsFile = m.files.find((f) => f.name === 'fields.txt')!;
    expect(fieldsFile.data).toContain('v'.repeat(2000));
    expect(fieldsFile.data).toContain('f29:\nv29');
  });

  it('batches step lines into messages within 2000 characters', () => {
    const lines = Array.from(
      { length: 200 },
      (_, i) => `evicted pod ${i} in namespace home-assistant`,
    );
    const messages = renderSteps(lines);
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) expect(m.length).toBeLessThanOrEqual(2000);
    expect(messages.join('\n').split('\n')).toEqual(lines.map((l) => `› ${l}`));
  });
});

describe('slash commands from the command definitions (golden)', () => {
  it('generates subcommands, typed options, choices, autocomplete, required first', async () => {
    const body = slashCommands(await loadCommands());
    for (const c of body) {
      expect(c.description.length).toBeLessThanOrEqual(100);
      for (const s of c.options) {
        const opts = s.options ?? [];
        const firstOptional = opts.findIndex((o) => !o.required);
        if (firstOptional >= 0)
          expect(opts.slice(firstOptional).every((o) => !o.required)).toBe(true);
        for (const o of opts) expect(!(o.choices && o.autocomplete)).toBe(true);
      }
    }
    await expect(JSON.stringify(body, null, 2)).toMatchFileSnapshot('golden/discord-commands.json');
  });
});
