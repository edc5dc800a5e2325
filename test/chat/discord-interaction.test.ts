/**
 * Reading an interaction as Discord sends it (INTERACTION_CREATE `d`): its age from the snowflake
 * id (the token's 15 minutes run from there, also for one replayed after a resume), the
 * subcommand and options, and which kind it is.
 */
import { describe, expect, it } from 'vitest';
import type { DiscordRest } from '../../src/chat/discord/discord-rest.js';
import { DiscordInteraction } from '../../src/chat/discord/interaction.js';
import { interactionAgeMs } from '../../src/chat/discord/interaction-responder.js';
import { snowflake } from '../fakes/discord/fake-discord.js';

const rest = {} as DiscordRest;

describe('Discord interactions as sent', () => {
  it('are as old as their snowflake id says', () => {
    const now = Date.now();
    expect(interactionAgeMs(snowflake(now - 90_000), now)).toBe(90_000);
    expect(interactionAgeMs(snowflake(now), now)).toBe(0);
    expect(interactionAgeMs('not-a-snowflake', now)).toBe(0);
    // A clock behind Discord's: never a negative age.
    expect(interactionAgeMs(snowflake(now + 5000), now)).toBe(0);
  });

  it('read the subcommand and flatten its options; tell commands, buttons and autocomplete apart', () => {
    const command = new DiscordInteraction(
      {
        id: '1',
        type: 2,
        channel_id: '9',
        data: {
          name: 'node',
          type: 1,
          options: [
            {
              name: 'reboot',
              type: 1,
              options: [
                { name: 'node', type: 3, value: 'pi4-a' },
                { name: 'force', type: 5, value: true },
              ],
            },
          ],
        },
      },
      rest,
    );
    expect(command.isCommand()).toBe(true);
    expect(command.commandName).toBe('node');
    expect(command.subcommand()).toBe('reboot');
    expect(command.options().map((o) => [o.name, o.value])).toEqual([
      ['node', 'pi4-a'],
      ['force', true],
    ]);
    const flat = new DiscordInteraction(
      {
        id: '2',
        type: 2,
        data: { name: 'help', options: [{ name: 'topic', type: 3, value: 'x' }] },
      },
      rest,
    );
    expect(flat.subcommand()).toBeUndefined();
    expect(flat.options()).toHaveLength(1);
    const button = new DiscordInteraction(
      {
        id: '3',
        type: 3,
        message: { id: '7' },
        data: { component_type: 2, custom_id: 'confirm:ab' },
      },
      rest,
    );
    expect([button.isButton(), button.isCommand(), button.customId, button.messageId]).toEqual([
      true,
      false,
      'confirm:ab',
      '7',
    ]);
    const auto = new DiscordInteraction({ id: '4', type: 4, data: { name: 'node' } }, rest);
    expect([auto.isAutocomplete(), auto.isRepliable()]).toEqual([true, false]);
  });
});
