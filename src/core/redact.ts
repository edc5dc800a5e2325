/**
 * Credentials inside URLs (`https://user:token@git.example/lab.git`, `https://token@…`) are
 * secrets wherever they appear: printed config, dry-run plans, log lines, git's own messages.
 */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:'"]*)(:[^\s/@'"]*)?@/gi;
/** A bare user name (`git@`, `pi@`) is not a secret; anything token-like is. */
const PLAIN_USER = /^[a-z_][a-z0-9_.-]{0,31}$/i;

export function redactUrlCredentials(text: string): string {
  return text.replace(URL_USERINFO, (_m, scheme: string, user: string, password?: string) => {
    if (password !== undefined) return `${scheme}${user}:[redacted]@`;
    return PLAIN_USER.test(user) && !/\d{6,}/.test(user)
      ? `${scheme}${user}@`
      : `${scheme}[redacted]@`;
  });
}

/** A deep copy with every string's URL credentials redacted. */
export function redactUrlsDeep<T>(value: T): T {
  if (typeof value === 'string') return redactUrlCredentials(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactUrlsDeep(v)) as T;
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactUrlsDeep(v);
  return out as T;
}
