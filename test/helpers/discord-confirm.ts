/**
 * A side-effecting command on the fake Discord as a user runs it: the slash command, its
 * proposal (the answer with the Confirm and Cancel buttons), the press on Confirm. The operation
 * then reports in the proposal's own message, edited in place, and in the thread under it.
 *
 *   const proposal = await proposeOnDiscord(discord, { user, channelId, name: 'node', … });
 *   await pressConfirm(discord, user, proposal);
 *   // or both: const message = await confirmOnDiscord(discord, { … });
 */
import type {
  FakeDiscord,
  InteractionHandle,
  MessageView,
  SlashCommandInput,
} from '../fakes/discord/fake-discord.js';

/**
 * Runs the slash command and waits until its answer is a proposal; the proposal's message. Its
 * `interactionId` is the command's interaction. Throws with what the bot answered instead.
 */
export async function proposeOnDiscord(
  discord: FakeDiscord,
  command: SlashCommandInput,
  timeoutMs = 10_000,
): Promise<MessageView> {
  const i = await discord.slashCommand(command);
  const proposal = () => {
    const message = discord.interactionResponse(i).message;
    return message?.buttons.length ? message : undefined;
  };
  try {
    // waitFor returns only once the predicate gives a message.
    return (await discord.waitFor(proposal, timeoutMs))!;
  } catch (err) {
    throw new Error(
      `no proposal: ${JSON.stringify(discord.interactionResponse(i).embeds)} (${(err as Error).message})`,
    );
  }
}

/** `user` presses the proposal's Confirm button; the press's interaction. */
export function pressConfirm(
  discord: FakeDiscord,
  user: string,
  proposal: MessageView,
): Promise<InteractionHandle> {
  const button = proposal.buttons.find((b) => b.label === 'Confirm');
  if (!button?.customId)
    throw new Error(`no Confirm button on ${proposal.id}: ${JSON.stringify(proposal.buttons)}`);
  return discord.pressButton({ user, messageId: proposal.id, customId: button.customId });
}

/** Proposes `command` and confirms it as the user who ran it; the message it runs in. */
export async function confirmOnDiscord(
  discord: FakeDiscord,
  command: SlashCommandInput,
): Promise<MessageView> {
  const proposal = await proposeOnDiscord(discord, command);
  await pressConfirm(discord, command.user, proposal);
  return proposal;
}
