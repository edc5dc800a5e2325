/** Wires the HTTP server: REST routes under /api/v10, attachment downloads, gateway upgrades. */
import { createServer, type Server } from 'node:http';
import type { FakeGateway } from './gateway.js';
import { type RecordedRequest, restListener } from './http.js';
import type { Payloads } from './payloads.js';
import type { RateLimiter } from './rate-limit.js';
import { interactionRoutes } from './routes-interactions.js';
import { type RouteContext, restRoutes } from './routes-rest.js';
import type { FakeState } from './state.js';

export interface ServerParts {
  state: FakeState;
  payloads: Payloads;
  gateway: FakeGateway;
  limiter: RateLimiter;
  token: string | undefined;
  gatewayUrl: () => string;
  record: (r: RecordedRequest) => void;
  unhandled: (r: { method: string; path: string; error?: string }) => void;
  loseAnswer: (route: string | null) => boolean;
}

const GUILD_MESSAGES_INTENT = 1 << 9;

export function createFakeServer(p: ServerParts): Server {
  const { state, payloads, gateway } = p;
  state.onThreadCreate = (t) =>
    gateway.dispatch('THREAD_CREATE', { ...payloads.channel(t), newly_created: true });
  const ctx: RouteContext = {
    state,
    payloads,
    gatewayUrl: p.gatewayUrl,
    dispatch: (t, d) => gateway.dispatch(t, d),
    messageEvent: (t, m) => {
      if (gateway.intents & GUILD_MESSAGES_INTENT) {
        gateway.dispatch(t, { ...payloads.message(m), guild_id: state.guildId });
      }
    },
  };
  const rest = restListener({
    routes: [...restRoutes(ctx), ...interactionRoutes(ctx)],
    limiter: p.limiter,
    ...(p.token === undefined ? {} : { token: p.token }),
    record: p.record,
    unhandled: p.unhandled,
    loseAnswer: p.loseAnswer,
  });
  const server = createServer((req, res) => {
    // Attachment URLs handed out in message objects point here.
    const m = /^\/attachments\/\d+\/(\d+)\//.exec(req.url ?? '');
    const file = m
      ? [...state.messages.values()].flatMap((x) => x.attachments).find((a) => a.id === m[1])
      : undefined;
    if (file) return void res.writeHead(200, { 'Content-Type': file.contentType }).end(file.data);
    void rest(req, res);
  });
  server.on('upgrade', (req, socket, head) => gateway.handleUpgrade(req, socket, head));
  return server;
}
