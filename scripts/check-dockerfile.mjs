#!/usr/bin/env node
// A hadolint-style review of the Dockerfile for machines without a Docker engine:
// the rules that matter for this image, plus "every COPY source exists in the repo".
import { existsSync, readFileSync } from 'node:fs';

const text = readFileSync('Dockerfile', 'utf8').replace(/\\\n/g, ' ');
const lines = text
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const problems = [];
const args = new Map();
const stages = [];
let user;
let healthcheck = false;

for (const line of lines) {
  const [instr, ...rest] = line.split(/\s+/);
  const body = rest.join(' ');
  switch (instr.toUpperCase()) {
    case 'ARG': {
      const [k, v] = body.split('=');
      args.set(k, v);
      break;
    }
    case 'FROM': {
      const image = rest[0].replace(/\$\{(\w+)\}/g, (_, k) => args.get(k) ?? '');
      if (!image.includes(':') || image.endsWith(':latest'))
        problems.push(`DL3007: pin the base image tag (${image})`);
      const as = rest.findIndex((w) => w.toUpperCase() === 'AS');
      stages.push(as >= 0 ? rest[as + 1] : String(stages.length));
      user = undefined;
      healthcheck = false;
      break;
    }
    case 'RUN':
      if (/apt-get install/.test(body) && !/--no-install-recommends/.test(body))
        problems.push('DL3015: apt-get install without --no-install-recommends');
      if (/apt-get install/.test(body) && !/rm -rf \/var\/lib\/apt\/lists/.test(body))
        problems.push('DL3009: remove /var/lib/apt/lists after apt-get install');
      if (/apt-get install/.test(body) && !/ -y /.test(body))
        problems.push('DL3014: apt-get install needs -y');
      if (/\bsudo\b/.test(body)) problems.push('DL3004: do not use sudo');
      break;
    case 'COPY': {
      const from = rest.find((w) => w.startsWith('--from='));
      const srcs = rest.filter((w) => !w.startsWith('--')).slice(0, -1);
      if (from) {
        if (!stages.includes(from.slice(7)))
          problems.push(`DL3022: COPY --from=${from.slice(7)} names no earlier stage`);
      } else {
        for (const s of srcs)
          if (!existsSync(s)) problems.push(`COPY source ${s} does not exist in the repository`);
      }
      break;
    }
    case 'ADD':
      problems.push('DL3020: use COPY instead of ADD');
      break;
    case 'USER':
      user = body;
      break;
    case 'HEALTHCHECK':
      healthcheck = true;
      break;
    case 'WORKDIR':
      if (!body.startsWith('/')) problems.push(`DL3000: WORKDIR must be absolute (${body})`);
      break;
  }
}
if (stages.length < 2) problems.push('the image must be multi-stage (build, runtime)');
if (!user || user === 'root' || user === '0')
  problems.push('DL3002: the final stage must switch to a non-root USER');
if (!healthcheck) problems.push('the final stage needs a HEALTHCHECK');

if (problems.length > 0) {
  console.error(
    `Dockerfile: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
  );
  process.exit(1);
}
console.log(`Dockerfile: ${stages.length} stages, final user ${user}, healthcheck present — ok`);
