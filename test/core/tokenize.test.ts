import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/core/errors.js';
import { tokenize } from '../../src/core/tokenize.js';

describe('tokenize', () => {
  it('splits words and name:value pairs, Discord-style', () => {
    expect(tokenize('task add title:"Replace SD card" priority:high')).toEqual([
      { value: 'task' },
      { value: 'add' },
      { name: 'title', value: 'Replace SD card' },
      { name: 'priority', value: 'high' },
    ]);
  });

  it('accepts name=value and quoted positional words', () => {
    expect(tokenize(`node reboot target=pi4-a "two words" 'single "quoted"'`)).toEqual([
      { value: 'node' },
      { value: 'reboot' },
      { name: 'target', value: 'pi4-a' },
      { value: 'two words' },
      { value: 'single "quoted"' },
    ]);
  });

  it('keeps colons, hashes and escapes inside quotes verbatim', () => {
    expect(tokenize(String.raw`title:"a: b # c \"q\" \\ d\nline2"`)).toEqual([
      { name: 'title', value: 'a: b # c "q" \\ d\nline2' },
    ]);
  });

  it('does not mistake URLs or quoted names for options', () => {
    expect(tokenize('https://grafana.lab/d/1 "title:x"')).toEqual([
      { value: 'https://grafana.lab/d/1' },
      { value: 'title:x' },
    ]);
  });

  it('accepts typographic quotes that phones insert', () => {
    expect(tokenize('title:“Fix DNS”')).toEqual([{ name: 'title', value: 'Fix DNS' }]);
  });

  it('rejects an unclosed quote with the column and how to fix it', () => {
    const err = (() => {
      try {
        tokenize('task add title:"Replace SD card');
      } catch (e) {
        return e;
      }
    })() as UserError;
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe('Unclosed quote " at column 16.');
    expect(err.hint).toContain('title:"Replace SD card"');
  });

  it('rejects an option without a value but allows an explicit empty one', () => {
    expect(() => tokenize('task add title:')).toThrow('Option title has no value');
    expect(tokenize('title:""')).toEqual([{ name: 'title', value: '' }]);
  });
});
