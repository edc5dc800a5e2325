/**
 * Discord's documented limits, answered the way Discord answers them: 400 `Invalid Form Body`
 * (code 50035) with a nested `errors` tree. If the bot sends something Discord would reject,
 * the test sees the same failure.
 */
import { validateAllowedMentions } from './mentions.js';
import { asArray, type ErrorTree, isObject, type JsonObject, str } from './util.js';

type Path = (string | number)[];

export class ErrorCollector {
  readonly tree: ErrorTree = {};
  count = 0;

  add(path: Path, code: string, message: string): void {
    let node: ErrorTree = this.tree;
    for (const key of path) {
      const k = String(key);
      const next = node[k];
      if (!next || Array.isArray(next)) node[k] = {};
      node = node[k] as ErrorTree;
    }
    const list = (node._errors as { code: string; message: string }[] | undefined) ?? [];
    list.push({ code, message });
    node._errors = list;
    this.count++;
  }

  maxLength(path: Path, value: unknown, max: number): void {
    if (typeof value === 'string' && [...value].length > max) {
      this.add(path, 'BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`);
    }
  }

  length(path: Path, value: unknown, min: number, max: number): void {
    const n =
      typeof value === 'string' ? [...value].length : Array.isArray(value) ? value.length : 0;
    if (value === undefined || value === null || (min > 0 && n === 0)) {
      if (min > 0) this.add(path, 'BASE_TYPE_REQUIRED', 'This field is required');
      return;
    }
    if (n < min || n > max) {
      this.add(path, 'BASE_TYPE_BAD_LENGTH', `Must be between ${min} and ${max} in length.`);
    }
  }

  arrayMax(path: Path, value: unknown, max: number): void {
    if (Array.isArray(value) && value.length > max) {
      this.add(path, 'BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`);
    }
  }
}

const chars = (v: unknown): number => (typeof v === 'string' ? [...v].length : 0);

function validateEmbeds(e: ErrorCollector, base: Path, embeds: unknown): void {
  if (embeds === undefined || embeds === null) return;
  e.arrayMax([...base, 'embeds'], embeds, 10);
  let total = 0;
  asArray(embeds).forEach((embed, i) => {
    const p = [...base, 'embeds', i];
    e.maxLength([...p, 'title'], embed.title, 256);
    e.maxLength([...p, 'description'], embed.description, 4096);
    const footer = isObject(embed.footer) ? embed.footer : {};
    const author = isObject(embed.author) ? embed.author : {};
    e.maxLength([...p, 'footer', 'text'], footer.text, 2048);
    e.maxLength([...p, 'author', 'name'], author.name, 256);
    e.arrayMax([...p, 'fields'], embed.fields, 25);
    total +=
      chars(embed.title) + chars(embed.description) + chars(footer.text) + chars(author.name);
    asArray(embed.fields).forEach((field, j) => {
      e.length([...p, 'fields', j, 'name'], field.name, 1, 256);
      e.length([...p, 'fields', j, 'value'], field.value, 1, 1024);
      total += chars(field.name) + chars(field.value);
    });
  });
  if (total > 6000) {
    e.add(
      [...base, 'embeds'],
      'MAX_EMBED_SIZE_EXCEEDED',
      'Embed size exceeds maximum size of 6000',
    );
  }
}

const SELECT_TYPES = new Set([3, 5, 6, 7, 8]);

function validateInteractive(e: ErrorCollector, p: Path, c: JsonObject, seen: Set<string>): void {
  const customId = str(c.custom_id);
  if (customId !== undefined) {
    e.length([...p, 'custom_id'], customId, 1, 100);
    if (seen.has(customId)) {
      e.add(
        [...p, 'custom_id'],
        'COMPONENT_CUSTOM_ID_DUPLICATED',
        'Component custom id cannot be duplicated',
      );
    }
    seen.add(customId);
  }
  if (c.type === 2) {
    e.maxLength([...p, 'label'], c.label, 80);
    const style = typeof c.style === 'number' ? c.style : 0;
    if (style === 5 && !str(c.url))
      e.add([...p, 'url'], 'BASE_TYPE_REQUIRED', 'This field is required');
    if (style >= 1 && style <= 4 && customId === undefined) {
      e.add([...p, 'custom_id'], 'BASE_TYPE_REQUIRED', 'This field is required');
    }
    if (!str(c.label) && !isObject(c.emoji) && style !== 6) {
      e.add([...p], 'BUTTON_COMPONENT_INVALID', 'A button must have a label or an emoji');
    }
  } else if (SELECT_TYPES.has(Number(c.type))) {
    e.maxLength([...p, 'placeholder'], c.placeholder, 150);
    if (c.type === 3) {
      e.length([...p, 'options'], c.options, 1, 25);
      asArray(c.options).forEach((o, k) => {
        e.length([...p, 'options', k, 'label'], o.label, 1, 100);
        e.length([...p, 'options', k, 'value'], o.value, 1, 100);
        e.maxLength([...p, 'options', k, 'description'], o.description, 100);
      });
    }
  }
}

function validateComponents(e: ErrorCollector, base: Path, components: unknown, v2: boolean): void {
  if (components === undefined || components === null) return;
  const seen = new Set<string>();
  if (!v2) e.arrayMax([...base, 'components'], components, 5);
  asArray(components).forEach((row, i) => {
    const p = [...base, 'components', i];
    if (row.type !== 1) {
      if (!v2)
        e.add(
          [...p, 'type'],
          'COMPONENT_LAYOUT_INVALID',
          'Top-level components must be action rows',
        );
      validateInteractive(e, p, row, seen);
      return;
    }
    const children = asArray(row.components);
    e.length([...p, 'components'], row.components, 1, 5);
    const selects = children.filter((c) => SELECT_TYPES.has(Number(c.type)));
    if (selects.length > 0 && children.length > 1) {
      e.add(
        [...p, 'components'],
        'COMPONENT_LAYOUT_WIDTH_EXCEEDED',
        'The specified component exceeds the maximum width',
      );
    }
    children.forEach((c, j) => {
      validateInteractive(e, [...p, 'components', j], c, seen);
    });
  });
}

/** Validates message content/embeds/components; `base` is e.g. `['data']` for callbacks. */
export function validateMessageBody(e: ErrorCollector, body: JsonObject, base: Path = []): void {
  e.maxLength([...base, 'content'], body.content, 2000);
  // resources/message.mdx: nonce "integer or string", up to 25 characters.
  if (typeof body.nonce === 'string') e.maxLength([...base, 'nonce'], body.nonce, 25);
  validateEmbeds(e, base, body.embeds);
  const flags = typeof body.flags === 'number' ? body.flags : 0;
  validateComponents(e, base, body.components, (flags & 32768) !== 0);
  validateAllowedMentions(e, body.allowed_mentions, base);
}

export function validateChoices(e: ErrorCollector, choices: unknown): void {
  e.arrayMax(['data', 'choices'], choices, 25);
  asArray(choices).forEach((c, i) => {
    e.length(['data', 'choices', i, 'name'], c.name, 1, 100);
    if (typeof c.value === 'string') e.maxLength(['data', 'choices', i, 'value'], c.value, 100);
  });
}

const NAME_RE = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

function validateName(e: ErrorCollector, p: Path, name: unknown, chatInput: boolean): void {
  if (
    typeof name !== 'string' ||
    !NAME_RE.test(name) ||
    (chatInput && name !== name.toLowerCase())
  ) {
    e.add([...p, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
  }
}

function optionChars(o: JsonObject): number {
  let n = chars(o.name) + chars(o.description);
  for (const c of asArray(o.choices)) n += chars(c.name) + chars(String(c.value ?? ''));
  for (const sub of asArray(o.options)) n += optionChars(sub);
  return n;
}

function validateOptions(e: ErrorCollector, p: Path, options: unknown): void {
  if (options === undefined || options === null) return;
  e.arrayMax([...p, 'options'], options, 25);
  const list = asArray(options);
  const names = new Set<string>();
  let optionalSeen = false;
  const subs = list.filter((o) => o.type === 1 || o.type === 2).length;
  if (subs > 0 && subs < list.length) {
    e.add(
      [...p, 'options'],
      'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID',
      'Sub-command and sub-command group option types are mutually exclusive to all other types',
    );
  }
  list.forEach((o, i) => {
    const op = [...p, 'options', i];
    validateName(e, op, o.name, true);
    e.length([...op, 'description'], o.description, 1, 100);
    const name = String(o.name);
    if (names.has(name)) {
      e.add(
        [...op, 'name'],
        'APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS',
        `Option name ${name} is already used in these options`,
      );
    }
    names.add(name);
    if (o.required === true && optionalSeen) {
      e.add(
        [...p, 'options'],
        'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID',
        'Required options must be placed before non-required options',
      );
    }
    if (o.type !== 1 && o.type !== 2 && o.required !== true) optionalSeen = true;
    e.arrayMax([...op, 'choices'], o.choices, 25);
    if (o.autocomplete === true && asArray(o.choices).length > 0) {
      e.add(
        [...op, 'autocomplete'],
        'APPLICATION_COMMAND_OPTION_CHOICES_AND_AUTOCOMPLETE',
        'Autocomplete cannot be set with choices',
      );
    }
    asArray(o.choices).forEach((c, j) => {
      e.length([...op, 'choices', j, 'name'], c.name, 1, 100);
      if (typeof c.value === 'string') e.maxLength([...op, 'choices', j, 'value'], c.value, 100);
    });
    if (o.type === 1 || o.type === 2) validateOptions(e, op, o.options);
  });
}

/** Validates a bulk-overwrite body (array of application commands). */
export function validateCommands(e: ErrorCollector, commands: unknown): void {
  if (!Array.isArray(commands)) {
    e.add([], 'BASE_TYPE_ARRAY', 'Must be an array');
    return;
  }
  e.arrayMax([], commands, 100);
  const seen = new Set<string>();
  asArray(commands).forEach((cmd, i) => {
    const type = typeof cmd.type === 'number' ? cmd.type : 1;
    validateName(e, [i], cmd.name, type === 1);
    if (type === 1) e.length([i, 'description'], cmd.description, 1, 100);
    const key = `${type}:${String(cmd.name)}`;
    if (seen.has(key)) {
      e.add(
        [i, 'name'],
        'APPLICATION_COMMANDS_DUPLICATE_NAME',
        'Application command names must be unique',
      );
    }
    seen.add(key);
    validateOptions(e, [i], cmd.options);
    if (optionChars(cmd) > 8000) {
      e.add([i], 'APPLICATION_COMMAND_TOO_LARGE', 'Command exceeds maximum size (8000)');
    }
  });
}
