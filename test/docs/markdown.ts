/**
 * Just enough Markdown for the docs tests: fenced code is not Markdown, links are
 * `[text](target)`, headings get GitHub's anchors (github-slugger: lowercase, punctuation
 * dropped, spaces to dashes, `-1`, `-2` … for repeats).
 */

/** The text with fenced code blocks blanked (line numbers kept). */
export function withoutCode(markdown: string): string {
  let fence: string | undefined;
  return markdown
    .split('\n')
    .map((line) => {
      const m = /^\s*(`{3,}|~{3,})/.exec(line);
      if (m && (fence === undefined || m[1]!.startsWith(fence))) {
        fence = fence === undefined ? m[1] : undefined;
        return '';
      }
      return fence === undefined ? line : '';
    })
    .join('\n');
}

export interface Link {
  target: string;
  line: number;
}

/** Inline links and images outside code: `[text](target)`, `![alt](target "title")`. */
export function linksOf(markdown: string): Link[] {
  const links: Link[] = [];
  withoutCode(markdown)
    .split('\n')
    .forEach((text, i) => {
      const prose = text.replace(/(`+)[^`]*?\1/g, '');
      for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        links.push({ target: m[1]!, line: i + 1 });
      }
    });
  return links;
}

/** GitHub's anchor for a heading's text. */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '')
    .trim();
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of every ATX heading outside code, repeats numbered as GitHub does. */
export function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of withoutCode(markdown).split('\n')) {
    const m = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}
