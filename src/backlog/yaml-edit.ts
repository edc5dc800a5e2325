import { isDeepStrictEqual } from 'node:util';
import {
  type Document,
  isMap,
  isScalar,
  isSeq,
  type Node,
  Pair,
  type ToStringOptions,
  type YAMLMap,
  YAMLSeq,
} from 'yaml';
import { UserError } from '../core/errors.js';
import { parseTaskFile, parseYaml, type TaskFile } from './task-file.js';
import { TASK_FIELD_ORDER } from './task-schema.js';
import {
  cleanTaskRecord,
  createStyledNode,
  type RenderOptions,
  renderItem,
} from './yaml-render.js';
import { spliceAppend, spliceRemove, spliceUpdate } from './yaml-splice.js';
import { lineStart } from './yaml-text.js';

/**
 * Pure, comment-preserving edits of one task file's `tasks:` list.
 *
 *   parseTaskFile(text, file)                  → TaskFile (UserError with file:line when bad)
 *   appendTask(text, file, task)               → text with the task added at the end
 *   insertTaskText(text, file, itemText, raw)  → text with an item moved from another file
 *   removeTask(text, file, id)                 → { text, itemText, raw }
 *   updateTask(text, file, id, changes)        → text with fields set (undefined removes one)
 *   newTaskFileText(header)                    → a new file: comment header + `tasks: []`
 *
 * Each edit first splices only the lines it changes (yaml-splice.ts), so comments, blank
 * lines, order and formatting elsewhere stay byte for byte. Every result is parsed again
 * and compared with the intended data; when that fails (a layout the splicer does not
 * handle, a string the readable style would not keep) the edit is redone on the `yaml`
 * Document (keeps comments and order, may re-indent), then with JSON-style quoting.
 */

export { parseTaskFile, type TaskFile, type TaskItem } from './task-file.js';

type Raw = Record<string, unknown>;

export function newTaskFileText(header: string): string {
  const lines = header.split('\n').map((l) => (l ? `# ${l}` : '#'));
  return `${lines.join('\n')}\n\ntasks: []\n`;
}

export function appendTask(text: string, file: string, task: Raw): string {
  const f = parseTaskFile(text, file);
  const raw = cleanTaskRecord(task);
  const expected = withTasks(f, (tasks) => [...tasks, raw]);
  const opts = renderOptions(f);
  return firstThatReadsBack(file, expected, [
    () => spliceAppend(f, renderItem(raw, opts)),
    () => spliceAppend(f, renderItem(raw, { ...opts, safe: true })),
    () => editDocument(f, (doc, seq) => seq.items.push(createStyledNode(doc, raw))),
    () =>
      editDocument(f, (doc, seq) => seq.items.push(createStyledNode(doc, raw, undefined, true))),
  ]);
}

/** Adds an item taken out of another file (removeTask's itemText), keeping its lines. */
export function insertTaskText(text: string, file: string, itemText: string, raw: Raw): string {
  const f = parseTaskFile(text, file);
  const expected = withTasks(f, (tasks) => [...tasks, raw]);
  const moved = () => {
    const node = (parseYaml(itemText).doc.contents as YAMLSeq<Node> | null)?.items[0];
    if (!node) throw new Error(`not a task list item: ${itemText}`);
    return node;
  };
  return firstThatReadsBack(file, expected, [
    () => spliceAppend(f, itemText),
    () => editDocument(f, (_doc, seq) => seq.items.push(moved())),
    () => appendTask(text, file, raw),
  ]);
}

export function removeTask(
  text: string,
  file: string,
  id: string,
): { text: string; itemText: string; raw: Raw } {
  const f = parseTaskFile(text, file);
  const item = findItem(f, id);
  const expected = withTasks(f, (tasks) => tasks.filter((_, i) => i !== item.index));
  const spliced = spliceRemove(f, item.index);
  const itemText = spliced?.itemText ?? renderItem(item.raw, renderOptions(f));
  const out = firstThatReadsBack(file, expected, [
    () => spliced?.text,
    () => editDocument(f, (_doc, seq) => seq.items.splice(item.index, 1)),
  ]);
  return { text: out, itemText, raw: item.raw };
}

export function updateTask(text: string, file: string, id: string, changes: Raw): string {
  const f = parseTaskFile(text, file);
  const item = findItem(f, id);
  const updated: Raw = { ...item.raw };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete updated[k];
    else updated[k] = v;
  }
  const expected = withTasks(f, (tasks) => tasks.map((t, i) => (i === item.index ? updated : t)));
  const opts = renderOptions(f, item.index);
  return firstThatReadsBack(file, expected, [
    () => spliceUpdate(f, item.index, changes, opts),
    () => spliceUpdate(f, item.index, changes, { ...opts, safe: true }),
    () => editDocument(f, (doc, seq) => setFields(doc, seq, item.index, changes, false)),
    () => editDocument(f, (doc, seq) => setFields(doc, seq, item.index, changes, true)),
  ]);
}

function findItem(f: TaskFile, id: string) {
  const item = f.items.find((i) => i.id === id);
  if (!item) throw new UserError(`${f.file} has no task ${id}`);
  return item;
}

function withTasks(f: TaskFile, change: (tasks: unknown[]) => unknown[]): unknown {
  const base = (f.doc.toJS() ?? {}) as Raw;
  const tasks = Array.isArray(base.tasks) ? base.tasks : [];
  return { ...base, tasks: change(tasks) };
}

function firstThatReadsBack(
  file: string,
  expected: unknown,
  attempts: Array<() => string | undefined>,
): string {
  for (const attempt of attempts) {
    const out = attempt();
    if (out === undefined) continue;
    const { doc } = parseYaml(out);
    if (doc.errors.length === 0 && isDeepStrictEqual(doc.toJS() ?? {}, expected)) return out;
  }
  throw new Error(`could not write ${file} so that it reads back as intended`);
}

/**
 * Indentation of maps nested in items, learnt from the item being edited, else from the
 * file's last item that has such a map (default 2).
 */
function renderOptions(f: TaskFile, index?: number): RenderOptions {
  const items = [...(f.seq?.items ?? [])].reverse();
  const own = index === undefined ? undefined : f.seq?.items[index];
  for (const node of own ? [own, ...items] : items) {
    if (!isMap(node)) continue;
    for (const pair of node.items as Pair<Node, Node | null>[]) {
      const child = pair.value;
      if (isMap(child) && !child.flow && child.range && pair.key.range) {
        const keyCol = pair.key.range[0] - lineStart(f.text, pair.key.range[0]);
        const childCol = child.range[0] - lineStart(f.text, child.range[0]);
        if (childCol > keyCol) return { indent: childCol - keyCol };
      }
    }
  }
  return { indent: 2 };
}

function documentOptions(f: TaskFile): ToStringOptions {
  const first = f.seq?.items[0]?.range?.[0];
  const key = f.tasksPair?.key.range?.[0];
  let indentSeq = true;
  if (first !== undefined && key !== undefined) {
    const dashCol = first - 2 - lineStart(f.text, first);
    indentSeq = dashCol > key - lineStart(f.text, key);
  }
  return { ...renderOptions(f), indentSeq, lineWidth: 0, flowCollectionPadding: false };
}

/** Re-renders the whole file after editing its Document (comments and order survive). */
function editDocument(f: TaskFile, edit: (doc: Document, seq: YAMLSeq<Node>) => void): string {
  const doc: Document = parseYaml(f.text).doc;
  if (!isMap(doc.contents)) doc.contents = doc.createNode({});
  const root = doc.contents as YAMLMap;
  let seq: unknown = root.get('tasks', true);
  if (!isSeq(seq)) {
    seq = new YAMLSeq(doc.schema);
    root.set('tasks', seq);
  }
  const list = seq as YAMLSeq<Node>;
  edit(doc, list);
  list.flow = false;
  return doc.toString(documentOptions(f));
}

function setFields(doc: Document, seq: YAMLSeq<Node>, index: number, changes: Raw, safe: boolean) {
  const map = seq.items[index] as YAMLMap<Node, Node | null>;
  const rank = (k: unknown) => (TASK_FIELD_ORDER as readonly unknown[]).indexOf(k);
  for (const [key, value] of Object.entries(changes)) {
    const at = map.items.findIndex((p) => isScalar(p.key) && p.key.value === key);
    if (value === undefined) {
      if (at !== -1) map.items.splice(at, 1);
      continue;
    }
    const node = createStyledNode(doc, value, key, safe);
    const old = map.items[at];
    if (old) {
      node.comment = old.value?.comment;
      old.value = node;
      continue;
    }
    let pos = map.items.length;
    const r = rank(key);
    if (r !== -1) {
      const next = map.items.findIndex((p) => rank(isScalar(p.key) ? p.key.value : '') > r);
      if (next !== -1) pos = next;
    }
    map.items.splice(pos, 0, new Pair(doc.createNode(key), node));
  }
}
