import {
  type Document,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type Pair,
  parseDocument,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import type { z } from 'zod';
import { UserError } from '../core/errors.js';
import { type Task, TaskSchema } from './task-schema.js';

/**
 * Reading one task file (`backlog.yaml`, `in-progress.yaml`, `completed/YYYY-MM.yaml`):
 * a mapping whose `tasks:` key holds a list of tasks. Anything that does not parse or fails
 * the schema is a UserError naming the file and line, so a hand-edit mistake is reported
 * where it is and the file is never overwritten.
 */

export interface TaskItem {
  readonly id: string;
  /** Position in the file's `tasks:` list. */
  readonly index: number;
  /** The item as plain data, exactly as written (no defaults filled in). */
  readonly raw: Record<string, unknown>;
  /** The item validated by TaskSchema (defaults filled in). */
  readonly task: Task;
  /** 1-based line of the item in the file. */
  readonly line: number;
}

export interface TaskFile {
  /** Path shown in messages, relative to the repo: `tasks/backlog.yaml`. */
  readonly file: string;
  readonly text: string;
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
  /** The `tasks:` pair of the top-level mapping, when there is one. */
  readonly tasksPair: Pair<Node, Node | null> | undefined;
  /** The `tasks:` list; undefined when the key is missing or empty (`tasks:`). */
  readonly seq: YAMLSeq<Node> | undefined;
  readonly items: readonly TaskItem[];
}

const FIX_HINT =
  'Fix the file in the lab repo and push; the bot will not change a file it cannot read.';

/** Parses YAML text without schema checks: for verifying the edits' output. */
export function parseYaml(text: string): { doc: Document.Parsed; lines: LineCounter } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  return { doc, lines };
}

export function parseTaskFile(text: string, file: string): TaskFile {
  const { doc, lines } = parseYaml(text);
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
    const [first = err.message, ...rest] = err.message.split('\n');
    const what = first.replace(/ at line \d+, column \d+:?$/, '');
    throw new UserError(`${where}: ${file} is not valid YAML: ${what}`, joinHint(rest, FIX_HINT));
  }
  const at = (offset: number | undefined) => `${file}:${lines.linePos(offset ?? 0).line}`;
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) {
    return { file, text, doc, lines, tasksPair: undefined, seq: undefined, items: [] };
  }
  if (!isMap(root)) {
    throw new UserError(
      `${at(root.range?.[0])}: expected a mapping with a "tasks:" list`,
      FIX_HINT,
    );
  }
  const tasksPair = (root as YAMLMap<Node, Node | null>).items.find(
    (p) => isScalar(p.key) && p.key.value === 'tasks',
  );
  const value = tasksPair?.value;
  if (!value || (isScalar(value) && value.value === null)) {
    return { file, text, doc, lines, tasksPair, seq: undefined, items: [] };
  }
  if (!isSeq(value)) {
    throw new UserError(`${at(value.range?.[0])}: "tasks:" must be a list of tasks`, FIX_HINT);
  }
  const seq = value as YAMLSeq<Node>;
  const items: TaskItem[] = [];
  const seen = new Map<string, number>();
  seq.items.forEach((node, index) => {
    const line = lines.linePos(node.range?.[0] ?? 0).line;
    if (!isMap(node)) {
      throw new UserError(`${file}:${line}: task #${index + 1} is not a mapping`, FIX_HINT);
    }
    const raw = node.toJS(doc) as Record<string, unknown>;
    const label = typeof raw.id === 'string' ? raw.id : `#${index + 1}`;
    const parsed = TaskSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const { path, offset } = issuePath(node, issue);
      const missing = issue.code === 'invalid_type' && valueAt(raw, issue.path) === undefined;
      const what = missing ? 'is missing' : issue.message;
      const field = path.length > 0 ? `field "${path.join('.')}" ` : '';
      throw new UserError(
        `${file}:${lines.linePos(offset ?? node.range?.[0] ?? 0).line}: task ${label}: ${field}${what}`,
        FIX_HINT,
      );
    }
    const task = parsed.data;
    const dup = seen.get(task.id);
    if (dup !== undefined) {
      throw new UserError(
        `${file}:${line}: task ${task.id} appears twice (also line ${dup})`,
        FIX_HINT,
      );
    }
    seen.set(task.id, line);
    items.push({ id: task.id, index, raw, task, line });
  });
  return { file, text, doc, lines, tasksPair, seq, items };
}

function joinHint(snippet: string[], hint: string): string {
  const context = snippet.filter((l) => l.trim() !== '').join('\n');
  return context ? `${context}\n${hint}` : hint;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let cur = raw;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/** The path of a schema issue (with an unknown key appended) and the offset of its node. */
function issuePath(
  item: YAMLMap,
  issue: z.core.$ZodIssue,
): { path: PropertyKey[]; offset: number | undefined } {
  const path = [...issue.path];
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) path.push(issue.keys[0]);
  let node: unknown = item;
  let offset = item.range?.[0];
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      offset = (node as Node | undefined)?.range?.[0] ?? offset;
    } else break;
  }
  return { path, offset };
}
