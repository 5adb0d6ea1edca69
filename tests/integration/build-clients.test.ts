import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, type Suite } from '../support/berth';
import { BuildSuite } from '../support/build';

// The build calls of the client libraries users script Docker with, against the classic builder.
let b: BuildSuite;
let s: Suite;
let ctx: string;

beforeAll(async () => {
  b = await BuildSuite.start('bt-bclients-');
  s = b.s;
  ctx = b.context('ctx', {
    Dockerfile: 'FROM busybox\nARG MSG=default\nCOPY hello.txt /hello.txt\nRUN echo "$MSG" > /msg.txt\nCMD ["cat", "/hello.txt", "/msg.txt"]\n',
    'hello.txt': 'hello from the context\n',
  });
}, 120_000);

afterAll(async () => {
  await b?.stop();
});

describe('client libraries build images', () => {
  it("docker-py 5.0.3: client.images.build returns the image and the log stream", async () => {
    const script = [
      'import docker, sys',
      `c = docker.DockerClient(base_url="${s.dockerHost}")`,
      `img, logs = c.images.build(path="${ctx}", tag="py-built:1", buildargs={"MSG": "from python"}, rm=True)`,
      'lines = [l.get("stream", "") for l in logs]',
      'print("ID", img.id)',
      'print("TAGS", img.tags)',
      'print("STEPS", sum(1 for l in lines if l.startswith("Step ")))',
      'try:',
      `    c.images.build(path="${ctx}", dockerfile="Nope")`,
      'except docker.errors.APIError as e:',
      '    print("ERR", e.explanation)',
      'except docker.errors.BuildError as e:',
      '    print("ERR", e.msg)',
    ].join('\n');
    const r = await run('/usr/bin/python3', ['-c', script], { timeoutMs: 300_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^ID sha256:[0-9a-f]{64}$/m);
    expect(r.stdout).toContain("TAGS ['py-built:1']");
    expect(r.stdout).toContain('STEPS 5');
    expect(r.stdout).toContain('ERR Cannot locate specified Dockerfile: Nope');
    expect((await s.docker(['run', '--rm', 'py-built:1'])).stdout).toBe('hello from the context\nfrom python\n');
  }, 300_000);
});
