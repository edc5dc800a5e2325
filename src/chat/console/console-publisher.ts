import type { Reply } from '../../core/reply.js';
import type { MessageRef, Publisher } from '../publisher.js';
import { renderConsole } from './render.js';
import { terminalSafe } from './terminal-safe.js';

/** Alert threads on the terminal: a root is printed once, edits and thread posts follow as lines. */
export class ConsolePublisher implements Publisher {
  readonly platform = 'console';
  private seq = 0;

  constructor(private readonly write: (text: string) => void) {}

  async post(target: string, reply: Reply): Promise<MessageRef> {
    this.seq += 1;
    this.write(renderConsole(reply));
    return { platform: 'console', target, messageId: String(this.seq) };
  }

  async edit(_ref: MessageRef, reply: Reply): Promise<void> {
    this.write(renderConsole({ ...reply, title: `(updated) ${reply.title ?? ''}`.trim() }));
  }

  async reply(ref: MessageRef, reply: Reply, threadName: string): Promise<MessageRef> {
    const text = renderConsole(reply)
      .split('\n')
      .map((l) => `  │ ${l}`)
      .join('\n');
    this.write(`  ┌ ${terminalSafe(threadName).replace(/\n/g, ' ')}\n${text}`);
    return { ...ref, threadId: ref.threadId ?? ref.messageId };
  }
}
