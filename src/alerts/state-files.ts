/** The alert pipeline's state files share the bot's durable-file helpers. */
export { moveAside } from '../core/state-file.js';
