import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { parseTaskFile } from '../../src/backlog/task-file.js';
import {
  DESCRIPTION_MAX,
  formatTaskId,
  formatTimestamp,
  PHASES,
  TaskSchema,
  TITLE_MAX,
} from '../../src/backlog/task-schema.js';
import { SEED_DIR } from './helpers.js';

type Json = unknown;

const ANNOTATIONS = ['description', 'title', '$comment', '$id', '$schema', 'examples'];

/** Keeps what constrains data: drops annotations, sorts `required`. */
function meaningful(schema: Json): Json {
  if (Array.isArray(schema)) return schema.map(meaningful);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (ANNOTATIONS.includes(k)) continue;
    if (k === 'required' && Array.isArray(v)) out[k] = [...v].sort();
    else if (k === 'properties' && v && typeof v === 'object') {
      // A map of field name → schema: the names (title, description, …) are not annotations.
      out[k] = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, meaningful(s)]));
    } else out[k] = meaningful(v);
  }
  return out;
}

const fromZod = () => z.toJSONSchema(TaskSchema, { io: 'input', target: 'draft-2020-12' });
const fromFile = async () => parse(await readFile(join(SEED_DIR, 'schema.yaml'), 'utf8'));

describe('tasks/schema.yaml and TaskSchema', () => {
  it('describe the same task: properties, types, required, enums, patterns, limits', async () => {
    const file = await fromFile();
    expect(file.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(meaningful(file)).toEqual(meaningful(fromZod()));
  });

  it('would notice a drift on either side', async () => {
    const file = (await fromFile()) as { properties: Record<string, Record<string, unknown>> };
    const drifted = structuredClone(file);
    drifted.properties.title!.maxLength = TITLE_MAX + 1;
    expect(meaningful(drifted)).not.toEqual(meaningful(fromZod()));
    const noEnum = structuredClone(file);
    (noEnum.properties.priority!.enum as string[]).pop();
    expect(meaningful(noEnum)).not.toEqual(meaningful(fromZod()));
    const looser = z.toJSONSchema(TaskSchema.extend({ node: z.string().optional() }), {
      io: 'input',
    });
    expect(meaningful(file)).not.toEqual(meaningful(looser));
    const noDescription = structuredClone(file);
    delete noDescription.properties.description;
    expect(meaningful(noDescription)).not.toEqual(meaningful(fromZod()));
  });

  it('checks every field named in the brief', () => {
    const shape = z.toJSONSchema(TaskSchema, { io: 'input' }) as {
      properties: Record<string, unknown>;
      required: string[];
    };
    expect(Object.keys(shape.properties).sort()).toEqual(
      [
        'completed',
        'created',
        'created_by',
        'description',
        'id',
        'node',
        'phase',
        'priority',
        'source',
        'started',
        'tags',
        'title',
      ].sort(),
    );
    expect(shape.required.sort()).toEqual(['created', 'created_by', 'id', 'priority', 'title']);
    expect(TITLE_MAX).toBe(200);
    expect(DESCRIPTION_MAX).toBe(4000);
    expect(PHASES).toEqual({
      1: 'Control plane',
      2: 'Workers',
      3: 'GitOps',
      4: 'Core services',
      5: 'Applications',
    });
  });

  it('accepts a full task and rejects bad ids, priorities, phases and timestamps', () => {
    const good = {
      id: 'T-0042',
      title: 'Replace SD card',
      priority: 'high',
      phase: 2,
      node: 'pi4-b',
      created: '2025-01-03T10:00:00Z',
      created_by: { platform: 'discord', user_id: '1234', display_name: 'alice' },
      started: '2025-01-04T10:00:00+01:00',
    };
    expect(TaskSchema.parse(good).tags).toEqual([]);
    for (const bad of [
      { id: 'T-42' },
      { priority: 'urgent' },
      { phase: 6 },
      { phase: 2.5 },
      { created: '2025-01-03' },
      { created: '2025-13-45T10:00:00Z' },
      { tags: ['two words'] },
      { created_by: { platform: 'discord', user_id: 1234, display_name: 'alice' } },
      { notes: 'unknown field' },
    ]) {
      expect(TaskSchema.safeParse({ ...good, ...bad }).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it('formats ids and timestamps the way the files hold them', () => {
    expect(formatTaskId(7)).toBe('T-0007');
    expect(formatTaskId(12345)).toBe('T-12345');
    expect(formatTimestamp(new Date('2025-01-03T10:00:00.123Z'))).toBe('2025-01-03T10:00:00Z');
  });
});

describe('the starting files of a task repo (tasks/)', () => {
  it('parse, follow the schema and use each id once', async () => {
    const ids: string[] = [];
    for (const name of ['backlog.yaml', 'in-progress.yaml']) {
      const text = await readFile(join(SEED_DIR, name), 'utf8');
      expect(text.startsWith('# '), `${name} starts with a comment header`).toBe(true);
      const f = parseTaskFile(text, `tasks/${name}`);
      expect(f.items.length).toBeGreaterThan(0);
      ids.push(...f.items.map((i) => i.id));
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(await readdir(join(SEED_DIR, 'completed'))).toContain('README.md');
  });
});
