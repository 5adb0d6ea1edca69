import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The benches' 10-step Dockerfile: metadata, COPY and RUN steps on busybox. */
export const BENCH_DOCKERFILE = [
  'FROM busybox',
  'ENV APP=/app MODE=bench',
  'WORKDIR /app',
  'COPY src/ /app/src/',
  'RUN cat src/*.txt > all.txt && wc -c all.txt',
  'COPY config.json /app/',
  'RUN mkdir -p /data && echo "$MODE" > /data/mode',
  'LABEL bench=build',
  'EXPOSE 8080',
  'CMD ["cat", "/app/all.txt"]',
  '',
].join('\n');

/** A temp dir with the Dockerfile, 50 small sources and a config file; the caller removes it. */
export function buildBenchContext(): string {
  const dir = mkdtempSync('/tmp/berth-build-bench-');
  mkdirSync(join(dir, 'src'));
  for (let i = 0; i < 50; i++) writeFileSync(join(dir, 'src', `f${i}.txt`), `file ${i} `.repeat(200));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ bench: true }));
  writeFileSync(join(dir, 'Dockerfile'), BENCH_DOCKERFILE);
  return dir;
}
