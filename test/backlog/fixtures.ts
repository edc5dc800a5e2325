/** A backlog as people really edit it: comments everywhere, blank lines, mixed styles. */
export const HAND_EDITED_BACKLOG = `# Lab backlog — edited by hand and by the bot.
#   Keep the storage section together, please.

tasks:
  # ---- storage ----------------------------------------------------

  - id: T-0001
    title: Replace SD card on pi4-b   # it is flaky since December
    description: >
      The card throws I/O errors in dmesg; swap it for a USB SSD
      and boot from that.
    priority: high
    tags: [hardware, storage]     # keep these short
    node: pi4-b
    created: 2025-01-03T10:00:00Z
    created_by: {platform: discord, user_id: "1234", display_name: alice}

  - id: T-0002        # the big one
    title: 'Move Longhorn backups to pi3'
    priority: medium
    tags:
      - longhorn
      - backup
    created: '2025-01-04T10:00:00Z'
    created_by:
        platform: matrix
        user_id: '@bob:lab.example.org'
        display_name: Bob
    # ask Bob about the NFS export first

  # ---- network ----------------------------------------------------

  - id: T-0004
    title: Set up Tailscale ACLs
    priority: low
    tags: []
    created: "2025-01-05T10:00:00Z"
    created_by:
      platform: discord
      user_id: "1234"
      display_name: alice

# New tasks go above this line.
`;

export const TASK_5 = {
  id: 'T-0005',
  title: 'Rotate the age key for SOPS',
  priority: 'medium',
  tags: ['secrets'],
  created: '2025-02-01T09:00:00Z',
  created_by: { platform: 'discord', user_id: '1234', display_name: 'alice' },
};

/** Strings that break naive YAML writers. */
export const NASTY_STRINGS = [
  'plain words',
  'key: value',
  'ends with colon:',
  'a # not a comment',
  '#starts with hash',
  '- looks like a list item',
  '-',
  '---',
  '--- document start',
  '...',
  '? question',
  ': colon first',
  '"double quoted"',
  "'single quoted'",
  `it's "mixed" 'quotes'`,
  'back\\slash \\n not a newline',
  'line one\nline two',
  'trailing newline\n',
  'two trailing newlines\n\n',
  '\nleading newline',
  '  leading spaces',
  'trailing spaces  ',
  'trailing space on a line \nnext',
  'tab\tinside',
  'carriage\r\nreturn',
  'null',
  '~',
  'true',
  'no',
  'Yes',
  '0x1F',
  '012',
  '1e3',
  '3.14',
  '2025-01-03',
  '2025-01-03T10:00:00Z',
  '&anchor',
  '*alias',
  '!tag value',
  '%directive',
  '@at sign',
  '`backtick`',
  '| pipe',
  '> greater',
  '{flow: map}',
  '[flow, seq]',
  'comma, separated',
  'emoji 🚀 and 👩‍👩‍👧 family',
  'ünïcödé — “typographic” quotes',
  '日本語のタイトル',
  'nul \u0000 byte',
  'bell \u0007 and escape \u001b[31m',
  'nel \u0085 line separator \u2028 paragraph \u2029',
  'bom \ufeff inside',
  'non-breaking\u00a0space',
  '    \n   indented block\n  with mixed\n\n\nblank lines',
  'x'.repeat(190),
  'word '.repeat(300).trim(),
  `${'long line with a # hash and: colon '.repeat(20)}end`,
];
