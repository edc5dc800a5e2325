import type { Command } from './command.js';

/**
 * Integrations handed to commands. Each is created lazily on first use so that start-up
 * only pays for what the configuration and the commands actually touch.
 */
export interface Services {
  /** The command registry (for `/help`). */
  commands(): readonly Command[];
}
