import { createInterface, type Interface } from 'node:readline';
import type { Dispatcher, Responder } from '../../core/dispatcher.js';
import type { ChatUser, Conversation } from '../../core/invocation.js';
import type { Reply } from '../../core/reply.js';
import type { ChatAdapter } from '../adapter.js';
import type { MessageRef, Publisher } from '../publisher.js';
import { ConsolePublisher } from './console-publisher.js';
import { renderConsole, renderProgressLine, renderStep } from './render.js';

export interface ConsoleAdapterOptions {
  dispatcher: Dispatcher;
  user: ChatUser;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream & { isTTY?: boolean };
  /** Interactive prompt with a redrawn status line; otherwise one command per line, plain output. */
  interactive: boolean;
  now?: () => number;
}

const YES = new Set(['y', 'yes']);
const NO = new Set(['n', 'no']);

/**
 * The terminal as a chat. Lines are commands, handled one after another (so a script's
 * order is kept and `y` answers the proposal above it). At end of input it waits for the
 * running command, cancels an unanswered proposal, and finishes.
 */
export class ConsoleAdapter implements ChatAdapter {
  readonly name = 'console';
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;
  private rl?: Interface;
  private queue: Promise<void> = Promise.resolve();
  private statusShown = false;
  /** The output closed (`| head -1` exited): nothing more is shown, so nothing more is run. */
  private outputGone = false;
  private readonly conversation: Conversation;

  constructor(private readonly opts: ConsoleAdapterOptions) {
    this.finished = new Promise((r) => {
      this.resolveFinished = r;
    });
    this.conversation = { platform: 'console', id: opts.interactive ? 'tty' : 'stdin' };
  }

  async start(): Promise<void> {
    const { input, output, interactive } = this.opts;
    // EPIPE and the like arrive as 'error' events; unhandled, they would crash with a stack trace.
    output.on('error', () => this.outputClosed());
    this.rl = createInterface({
      input,
      output: interactive ? output : undefined,
      terminal: interactive,
    });
    if (interactive) {
      this.write('homelab-chatops console. Type /help for commands, exit to leave.');
      this.rl.setPrompt('chatops> ');
      this.rl.prompt();
    }
    this.rl.on('line', (line) => {
      this.queue = this.queue.then(() => this.handleLine(line)).then(() => this.prompt());
    });
    this.rl.on('close', () => {
      this.queue = this.queue.then(() => this.endOfInput());
      void this.queue.then(() => this.resolveFinished());
    });
  }

  async stop(): Promise<void> {
    this.rl?.close();
  }

  publisher(): Publisher {
    return new ConsolePublisher((text) => {
      this.clearStatus();
      this.write(text);
    });
  }

  /** Like end of input: the running command finishes, an unanswered proposal is cancelled. */
  private outputClosed(): void {
    if (this.outputGone) return;
    this.outputGone = true;
    this.statusShown = false;
    this.rl?.close();
  }

  private prompt(): void {
    if (this.opts.interactive) this.rl?.prompt();
  }

  private async handleLine(raw: string): Promise<void> {
    const line = raw.trim();
    if (!line || line.startsWith('#') || this.outputGone) return;
    const { dispatcher, user } = this.opts;
    if (this.opts.interactive && (line === 'exit' || line === 'quit')) {
      this.rl?.close();
      return;
    }
    const pending = dispatcher.pendingCode(user);
    if (pending) {
      const word = line.toLowerCase();
      if (YES.has(word)) return dispatcher.confirm(pending, user, this.responder());
      if (NO.has(word) || !/^[/!]?(confirm|cancel)\b/i.test(line)) {
        await dispatcher.cancel(pending, user, this.responder());
        if (NO.has(word)) return;
      }
    }
    await dispatcher.handleText(line, user, this.conversation, this.responder());
  }

  private async endOfInput(): Promise<void> {
    const pending = this.opts.dispatcher.pendingCode(this.opts.user);
    if (pending) await this.opts.dispatcher.cancel(pending, this.opts.user, this.responder());
  }

  private responder(): Responder {
    const now = this.opts.now ?? Date.now;
    const ref: MessageRef = {
      platform: 'console',
      target: this.conversation.id,
      messageId: `${now()}`,
    };
    return {
      ref: () => ref,
      send: async (reply: Reply) => {
        this.clearStatus();
        this.write(renderConsole(reply, { now: now() }));
      },
      progress: async (reply: Reply) => {
        if (this.opts.interactive) {
          if (this.outputGone) return;
          this.clearStatus();
          this.opts.output.write(renderProgressLine(reply));
          this.statusShown = true;
        } else {
          this.write(renderProgressLine(reply));
        }
      },
      step: async (line: string) => {
        this.clearStatus();
        this.write(renderStep(line));
      },
    };
  }

  private clearStatus(): void {
    if (this.statusShown) {
      this.opts.output.write('\r\x1b[2K');
      this.statusShown = false;
    }
  }

  private write(text: string): void {
    if (!this.outputGone) this.opts.output.write(`${text}\n`);
  }
}
