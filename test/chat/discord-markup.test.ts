import { describe, expect, it } from 'vitest';
import { payload } from '../../src/chat/discord/message-body.js';
import { renderDiscord, renderSteps } from '../../src/chat/discord/render.js';

const HOSTILE = '[Fix it](https://evil.example) for <@&42> in <#7> @everyone';
const SHOWN = '[Fix it]\\(https://evil.example) for \\<@&42> in \\<#7> @\u200beveryone';

describe('Discord: untrusted text cannot inject markup or pings', () => {
  it('escapes masked links, mention pills, headings and @everyone; keeps code spans', () => {
    const m = renderDiscord({
      title: `HighTemp ${HOSTILE}`,
      text: `# Urgent\n-# small\n> quoted\nsummary: ${HOSTILE}; run \`[a](b) <@1>\``,
      fields: [{ name: 'instance <@1>', value: HOSTILE }],
    });
    const e = m.embeds[0]!;
    expect(e.title).toBe(`HighTemp ${SHOWN}`);
    expect(e.description).toBe(
      `\\# Urgent\n\\-# small\n\\> quoted\nsummary: ${SHOWN}; run \`[a](b) <@1>\``,
    );
    expect(e.fields).toEqual([{ name: 'instance \\<@1>', value: SHOWN }]);
    // Ordinary names are left alone.
    expect(
      renderDiscord({ text: 'dry_run:true on pi4-a (ok: [pi4-a])' }).embeds[0]!.description,
    ).toBe('dry_run:true on pi4-a (ok: [pi4-a])');
  });

  it('escapes step lines (node output) too', () => {
    expect(renderSteps([`ok: [pi4-a] ${HOSTILE}`])).toEqual([`› ok: [pi4-a] ${SHOWN}`]);
  });

  it('lets only the reply’s own mentions ping', () => {
    const root = payload(
      renderDiscord({ mentions: ['<@&123>', '<@456>'], text: '<@789> @here' }),
    ).body;
    expect(root.content).toBe('<@&123> <@456>');
    expect(root.allowed_mentions).toEqual({ parse: [], users: ['456'], roles: ['123'] });
    expect(payload(renderDiscord({ text: '@everyone' })).body.allowed_mentions).toEqual({
      parse: [],
    });
    expect(payload(renderDiscord({ mentions: ['@here'] })).body.allowed_mentions).toEqual({
      parse: ['everyone'],
    });
  });
});
