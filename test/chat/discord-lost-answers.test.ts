/**
 * Discord carried a request out but its answer was lost (the connection reset before the
 * response: `FakeDiscord.loseAnswers`). The client sends again — and must not make a second
 * message: channel posts carry a nonce Discord enforces (resources/message.mdx, Create Message:
 * `enforce_nonce`), and an interaction callback answered 40060 "already acknowledged" was the
 * first try's, whose reply is read back from `@original`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Json } from '../../src/chat/discord/discord-gateway.js';
import { DiscordPublisher } from '../../src/chat/discord/discord-publisher.js';
import { DiscordInteraction } from '../../src/chat/discord/interaction.js';
import { plainText } from '../../src/chat/discord/message-body.js';
import { snowflake } from '../fakes/discord/fake-discord.js';
import { discordClientOnFake } from '../helpers/discord-client-fake.js';

const OPS = snowflake();
const ALICE = snowflake();

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

async function setup() {
  const lab = await discordClientOnFake(stops, { channel: OPS, user: ALICE });
  await lab.client.login();
  return lab;
}

describe('Discord answers lost after the request was carried out', () => {
  it('a channel post is sent again but shown once (nonce + enforce_nonce)', async () => {
    const { fake, client } = await setup();
    fake.loseAnswers('POST /channels/:id/messages');
    const ref = await new DiscordPublisher(client).post(OPS, { title: 'NodeDown pi4-a' });
    const posts = fake.requests.filter((r) => r.route === 'POST /channels/:id/messages');
    expect(posts).toHaveLength(2);
    expect(posts[0]!.answerLost).toBe(true);
    expect(posts[1]!.body).toMatchObject({
      nonce: (posts[0]!.body as Json).nonce,
      enforce_nonce: true,
    });
    const shown = fake.channelMessages(OPS);
    expect(shown).toHaveLength(1);
    expect(ref.messageId).toBe(shown[0]!.id);
  });

  it('an interaction reply is sent again, 40060 is taken as done, and its message id is read back', async () => {
    const { fake, client, interactions } = await setup();
    const i = await fake.slashCommand({ user: ALICE, channelId: OPS, name: 'ping' });
    await fake.waitFor(() => interactions.some((x) => x.id === i.id), 5000);
    fake.loseAnswers('POST /interactions/:id/:token/callback');
    const interaction = new DiscordInteraction(
      interactions.find((x) => x.id === i.id)!,
      client.rest,
    );
    const res = await interaction.reply(plainText('pong'));
    const callbacks = fake.requests.filter(
      (r) => r.route === 'POST /interactions/:id/:token/callback',
    );
    expect(callbacks.map((r) => [r.status, r.errorCode])).toEqual([
      [200, undefined],
      [400, 40060],
    ]);
    const answer = fake.interactionResponse(i);
    expect(answer.message?.content).toBe('pong');
    // What the bot needs to edit the reply and start its step thread with the bot token.
    expect(res?.interaction?.response_message_id).toBe(answer.message?.id);
  });
});
