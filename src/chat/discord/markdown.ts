/**
 * Untrusted text in Discord markdown. Reply text is plain prose with `code` spans (see Reply);
 * Discord would render some of it as markup that misleads: masked links (`[Fix it](https://evil)`
 * shows only "Fix it"), mention and channel pills (`<@123>`, `<@&123>`, `<#123>`), slash
 * command and timestamp tags, and headings/subtext at a line start. Those are escaped; emphasis
 * (`*`, `_`, `~`, `|`) is left as it is, since escaping it everywhere would garble ordinary
 * names like `dry_run`.
 */

/** Escapes the misleading markup in prose; `code` spans are kept (nothing renders inside them). */
export function discordText(text: string): string {
  return text
    .split(/(`[^`\n]+`)/)
    .map((part, i) => (i % 2 === 1 ? part : escapeMarkup(part)))
    .join('');
}

function escapeMarkup(text: string): string {
  return (
    text
      // [label](url) → only the label would show.
      .replace(/\]\(/g, ']\\(')
      // <@user>, <@!user>, <@&role>, <#channel>, </command:id>, <t:ts>, <:emoji:id>, <a:emoji:id>
      .replace(/<(?=[@#/:]|t:|a:)/g, '\\<')
      // # heading, ## , ### , -# subtext, > quote at the start of a line.
      .replace(/^(\s*)(#{1,3} |-# |>)/gm, '$1\\$2')
      // @everyone / @here: never a ping, also where allowed_mentions is not set.
      .replace(/@(everyone|here)\b/g, '@\u200b$1')
  );
}

export interface AllowedMentions {
  parse: ('everyone' | 'roles' | 'users')[];
  users?: string[];
  roles?: string[];
}

/** For text that carries no intended mention: step logs, thread posts. */
export const NO_PINGS: AllowedMentions = { parse: [] };

/**
 * What may ping: only the mentions a message was meant to carry (the alert route's `<@&role>`,
 * `<@user>` in `content`), never `@everyone` or a mention that came with alert or node text.
 */
export function allowedMentions(content: string | undefined): AllowedMentions {
  const text = content ?? '';
  const roles = [...text.matchAll(/<@&(\d+)>/g)].map((m) => m[1]!);
  const users = [...text.matchAll(/<@!?(\d+)>/g)].map((m) => m[1]!);
  return {
    parse: /(^|\s)@(everyone|here)(\s|$)/.test(text) ? ['everyone'] : [],
    ...(users.length ? { users } : {}),
    ...(roles.length ? { roles } : {}),
  };
}
