import type { MessageRef, Publisher } from '../../src/chat/publisher.js';
import type { Reply } from '../../src/core/reply.js';

/** A chat as the alert pipeline sees it, recording what users would see: roots, edits, thread posts. */
export class RecordingPublisher implements Publisher {
  readonly platform = 'console';
  readonly roots: { id: string; target: string; reply: Reply; edits: Reply[] }[] = [];
  readonly threads = new Map<string, Reply[]>();
  /** When set, every call throws this (a chat that is down). */
  failWith?: Error;
  calls = 0;

  async post(target: string, reply: Reply): Promise<MessageRef> {
    this.check();
    const id = String(this.roots.length + 1);
    this.roots.push({ id, target, reply, edits: [] });
    return { platform: 'console', target, messageId: id };
  }

  async edit(ref: MessageRef, reply: Reply): Promise<void> {
    this.check();
    this.root(ref.messageId).edits.push(reply);
  }

  async reply(ref: MessageRef, reply: Reply): Promise<MessageRef> {
    this.check();
    this.root(ref.messageId);
    this.threads.set(ref.messageId, [...(this.threads.get(ref.messageId) ?? []), reply]);
    return { ...ref, threadId: ref.messageId };
  }

  /** The root as shown now (last edit). */
  current(id: string): Reply {
    const r = this.root(id);
    return r.edits.at(-1) ?? r.reply;
  }

  thread(id: string): Reply[] {
    return this.threads.get(id) ?? [];
  }

  private root(id: string) {
    const r = this.roots.find((x) => x.id === id);
    if (!r) throw new Error(`no root message ${id}`);
    return r;
  }

  private check(): void {
    this.calls++;
    if (this.failWith) throw this.failWith;
  }
}
