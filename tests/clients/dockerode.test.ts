import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Suite } from '../support/berth';
import { missingFields } from '../support/spec-fields';
import { loadClientImages, NOENV_IMAGE } from './load-images';

let suite: Suite;
let docker: Docker;

beforeAll(async () => {
  suite = await Suite.start();
  await loadClientImages(suite);
  docker = new Docker({ socketPath: suite.dockerHost.replace('unix://', '') });
});

afterAll(async () => {
  await suite?.removeAllContainers({ volumes: true });
  await suite?.stop();
});

/** Collects a demultiplexed stream until it ends. */
function collect(): { out: PassThrough; err: PassThrough; text: () => { stdout: string; stderr: string } } {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  return { out, err, text: () => ({ stdout, stderr }) };
}

describe('dockerode', () => {
  it('docker.run gives the output and the exit code', async () => {
    const c = collect();
    const [result, container] = (await docker.run('busybox:latest', ['sh', '-c', 'echo out; echo err >&2; exit 5'], [c.out, c.err], { Tty: false })) as [
      { StatusCode: number },
      Docker.Container,
    ];
    expect(result.StatusCode).toBe(5);
    expect(c.text()).toEqual({ stdout: 'out\n', stderr: 'err\n' });
    await container.remove();
  });

  it('docker.run with an image that has no Env finds echo on the default PATH', async () => {
    const c = collect();
    const [result, container] = (await docker.run(NOENV_IMAGE, ['echo', 'hi'], [c.out, c.err], { Tty: false })) as [{ StatusCode: number }, Docker.Container];
    expect(c.text().stdout).toBe('hi\n');
    expect(result.StatusCode).toBe(0);
    await container.remove();
  });

  it('container.attach streams stdout and takes stdin', async () => {
    const container = await docker.createContainer({ Image: 'busybox:latest', Cmd: ['sh', '-c', 'read line; echo "got $line"'], OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const stream = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
    const c = collect();
    container.modem.demuxStream(stream, c.out, c.err);
    const ended = new Promise((r) => stream.on('end', r));
    await container.start();
    stream.write('hello\n');
    await ended;
    expect(c.text().stdout).toBe('got hello\n');
    expect((await container.wait()).StatusCode).toBe(0);
    await container.remove();
  });

  it('container.attach without hijack replays logs', async () => {
    const container = await docker.createContainer({ Image: 'busybox:latest', Cmd: ['sh', '-c', 'echo early'] });
    await container.start();
    await container.wait();
    // stream: false, as an attach with stream would wait for the container's next run.
    const stream = (await container.attach({ stream: false, logs: true, stdout: true, stderr: true })) as NodeJS.ReadableStream;
    const c = collect();
    container.modem.demuxStream(stream, c.out, c.err);
    await new Promise((r) => stream.on('end', r));
    expect(c.text().stdout).toBe('early\n');
    await container.remove();
  });

  it('exec with demux, exit code and a TTY', async () => {
    const container = await docker.createContainer({ Image: 'busybox:latest', Cmd: ['sleep', '300'] });
    await container.start();
    const exec = await container.exec({ Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 2'], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const c = collect();
    docker.modem.demuxStream(stream, c.out, c.err);
    await new Promise((r) => stream.on('end', r));
    expect(c.text()).toEqual({ stdout: 'out\n', stderr: 'err\n' });
    expect((await exec.inspect()).ExitCode).toBe(2);

    const tty = await container.exec({ Cmd: ['sh', '-c', 'echo $TERM'], AttachStdout: true, Tty: true });
    const ts = await tty.start({ hijack: true, stdin: false, Tty: true });
    let raw = '';
    ts.on('data', (d: Buffer) => (raw += d.toString()));
    await new Promise((r) => ts.on('end', r));
    expect(raw.replace(/\r/g, '')).toBe('xterm\n');

    const plain = await container.exec({ Cmd: ['echo', 'no-upgrade'], AttachStdout: true });
    const ps = await plain.start({});
    const p = collect();
    docker.modem.demuxStream(ps, p.out, p.err);
    await new Promise((r) => ps.on('end', r));
    expect(p.text().stdout).toBe('no-upgrade\n');
    await container.remove({ force: true });
  });

  it('logs as a buffer and followed', async () => {
    const container = await docker.createContainer({ Image: 'busybox:latest', Cmd: ['sh', '-c', 'echo a; echo b >&2'] });
    await container.start();
    await container.wait();
    const buf = await container.logs({ stdout: true, stderr: true, follow: false });
    expect(buf.toString()).toContain('a\n');
    const stream = await container.logs({ stdout: true, stderr: true, follow: true });
    const c = collect();
    docker.modem.demuxStream(stream, c.out, c.err);
    await new Promise((r) => stream.on('end', r));
    expect(c.text()).toEqual({ stdout: 'a\n', stderr: 'b\n' });
    await container.remove();
  });

  it('kill leaves 137 and inspect has Docker zero values', async () => {
    const container = await docker.createContainer({ Image: 'busybox:latest', Cmd: ['sleep', '300'] });
    await container.start();
    await container.kill();
    expect((await container.wait()).StatusCode).toBe(137);
    const info = await container.inspect();
    expect(info.State.ExitCode).toBe(137);
    expect(info.HostConfig.CpuQuota).toBe(0);
    expect(info.HostConfig.LogConfig?.Type).toBe('json-file');
    await expect(container.remove()).resolves.toBeDefined();
  });

  it('images: list, inspect, tag, remove', async () => {
    const list = await docker.listImages();
    expect(list.flatMap((i) => i.RepoTags ?? [])).toEqual(expect.arrayContaining(['busybox:latest', NOENV_IMAGE]));
    const img = docker.getImage('busybox:latest');
    const info = await img.inspect();
    expect(info.Config.Cmd).toEqual(['sh']);
    await img.tag({ repo: 'dockerode/tagged', tag: 'v1' });
    expect((await docker.getImage('dockerode/tagged:v1').inspect()).Id).toBe(info.Id);
    await docker.getImage('dockerode/tagged:v1').remove();
    await expect(docker.getImage('dockerode/tagged:v1').inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('networks and volumes', async () => {
    const net = await docker.createNetwork({ Name: 'dockerode-net', Labels: { suite: 'dockerode' } });
    const n = await net.inspect();
    expect(n.Name).toBe('dockerode-net');
    expect(n.IPAM.Config?.[0]?.Subnet).toMatch(/^10\./);
    const c = await docker.createContainer({ Image: 'busybox:latest', Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'dockerode-net' } });
    await c.start();
    expect(Object.keys((await net.inspect()).Containers ?? {})).toEqual([c.id]);
    await c.remove({ force: true });
    await net.remove();
    await expect(net.inspect()).rejects.toMatchObject({ statusCode: 404 });

    const vol = await docker.createVolume({ Name: 'dockerode-vol' });
    expect((await docker.getVolume('dockerode-vol').inspect()).Driver).toBe('local');
    expect((await docker.listVolumes()).Volumes.map((v) => v.Name)).toContain('dockerode-vol');
    void vol;
    await docker.getVolume('dockerode-vol').remove();
  });

  it('events stream what happens', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const container = await docker.createContainer({ Image: 'busybox:latest', Cmd: ['true'] });
    await container.start();
    await container.wait();
    await container.remove();
    const until = Math.floor(Date.now() / 1000) + 1;
    const stream = (await docker.getEvents({ since, until, filters: { container: [container.id] } })) as NodeJS.ReadableStream;
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString()));
    await new Promise((r) => stream.on('end', r));
    const actions = text
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { Action: string }).Action);
    expect(actions).toEqual(expect.arrayContaining(['create', 'start', 'die', 'destroy']));
  });

  // Fields the spec lists that dockerd itself leaves out when empty (omitempty in moby's
  // structs) or that only newer engines than the 20.10 reference send.
  const OMITTED: Record<string, string[]> = {
    ContainerInspectResponse: ['SizeRw', 'SizeRootFs', 'ImageManifestDescriptor', 'Storage'],
    HostConfig: ['Annotations', 'Mounts', 'StorageOpt', 'Sysctls', 'Tmpfs'],
    ContainerConfig: ['ArgsEscaped', 'ExposedPorts', 'Healthcheck', 'NetworkDisabled', 'Shell', 'StopSignal', 'StopTimeout', 'MacAddress'],
    ContainerState: ['Health'],
    ImageInspect: ['Descriptor', 'Identity', 'Manifests', 'OsVersion', 'Variant'],
    Network: ['Peers', 'Status'],
  };

  it('inspect carries every field of the spec for containers, images and networks (a minimal create)', async () => {
    // A bare API create, as docker-py and dockerode send it: the engine fills in the rest.
    const c = await docker.createContainer({ Image: 'busybox:latest', Cmd: ['true'] });
    const info = (await c.inspect()) as unknown as Record<string, Record<string, unknown>>;
    expect(missingFields('ContainerInspectResponse', info, OMITTED.ContainerInspectResponse)).toEqual([]);
    expect(missingFields('HostConfig', info.HostConfig!, OMITTED.HostConfig)).toEqual([]);
    expect(missingFields('ContainerConfig', info.Config!, OMITTED.ContainerConfig)).toEqual([]);
    expect(missingFields('ContainerState', info.State!, OMITTED.ContainerState)).toEqual([]);
    expect(missingFields('NetworkSettings', info.NetworkSettings!)).toEqual([]);
    expect(info.HostConfig).toMatchObject({ CpuQuota: 0, Memory: 0, LogConfig: { Type: 'json-file', Config: {} }, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } });
    await c.remove();

    const img = (await docker.getImage(NOENV_IMAGE).inspect()) as unknown as Record<string, unknown>;
    expect(missingFields('ImageInspect', img, OMITTED.ImageInspect)).toEqual([]);
    // dockerd 20.10's image fields beyond the current spec, which docker-py 5 reads
    expect(img).toMatchObject({ Container: '', ContainerConfig: { Cmd: null, Env: null, Image: '' } });
    const net = (await docker.getNetwork('bridge').inspect()) as Record<string, unknown>;
    expect(missingFields('Network', net, OMITTED.Network)).toEqual([]);
  });

  it('a commit records its container and the container config', async () => {
    const c = await docker.createContainer({ Image: 'busybox:latest', Cmd: ['sh', '-c', 'echo x > /made'], Env: ['FROM_CONTAINER=1'] });
    await c.start();
    await c.wait();
    const { Id } = (await c.commit({ repo: 'dockerode/committed', tag: 'v1' })) as { Id: string };
    const img = (await docker.getImage(Id).inspect()) as unknown as Record<string, any>;
    expect(img.Container).toBe(c.id);
    expect(img.ContainerConfig.Env).toContain('FROM_CONTAINER=1');
    await docker.getImage('dockerode/committed:v1').remove();
    await c.remove();
  });

  it('an unknown log driver is refused at create; none is accepted', async () => {
    await expect(docker.createContainer({ Image: 'busybox:latest', Cmd: ['true'], HostConfig: { LogConfig: { Type: 'no-such', Config: {} } } })).rejects.toMatchObject({
      statusCode: 400,
      json: { message: "logger: no log driver named 'no-such' is registered" },
    });
    const c = await docker.createContainer({ Image: 'busybox:latest', Cmd: ['echo', 'unlogged'], HostConfig: { LogConfig: { Type: 'none', Config: {} } } });
    await c.start();
    await c.wait();
    expect((await c.inspect()).HostConfig.LogConfig?.Type).toBe('none');
    await c.remove();
  });

  it('rm --link of a plain name is refused without touching the container', async () => {
    const c = await docker.createContainer({ Image: 'busybox:latest', Cmd: ['true'], name: 'dockerode-linkless' });
    await expect(c.remove({ link: true })).rejects.toMatchObject({ statusCode: 409 });
    expect((await c.inspect()).Id).toBe(c.id);
    await c.remove();
  });

  it('buildImage sends a gzip context and follows the build to a runnable image', async () => {
    const dir = mkdtempSync('/tmp/bt-dode-build-');
    try {
      writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:latest\nARG WHO=nobody\nCOPY greeting.txt /greeting.txt\nRUN echo "$WHO" >> /greeting.txt\nCMD ["cat", "/greeting.txt"]\n');
      writeFileSync(join(dir, 'greeting.txt'), 'hello from dockerode\n');
      const stream = await docker.buildImage({ context: dir, src: ['Dockerfile', 'greeting.txt'] }, { t: 'dockerode/built:v1', buildargs: { WHO: 'builder' } });
      const progress = await new Promise<{ stream?: string; aux?: { ID: string } }[]>((resolve, reject) =>
        docker.modem.followProgress(stream, (err: Error | null, out: { stream?: string; aux?: { ID: string } }[]) => (err ? reject(err) : resolve(out))),
      );
      const text = progress.map((m) => m.stream ?? '').join('');
      expect(text).toContain('Step 1/5 : FROM busybox:latest');
      expect(text).toContain('Successfully tagged dockerode/built:v1');
      const id = progress.find((m) => m.aux?.ID)?.aux?.ID;
      expect((await docker.getImage('dockerode/built:v1').inspect()).Id).toBe(id);
      const c = collect();
      const [result, container] = (await docker.run('dockerode/built:v1', [], [c.out, c.err], { Tty: false })) as [{ StatusCode: number }, Docker.Container];
      expect(result.StatusCode).toBe(0);
      expect(c.text().stdout).toBe('hello from dockerode\nbuilder\n');
      await container.remove();

      // A failing step: the stream carries Docker's error and nothing is tagged.
      writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:latest\nRUN exit 3\n');
      const failing = await docker.buildImage({ context: dir, src: ['Dockerfile'] }, { t: 'dockerode/failed:v1' });
      const lines = await new Promise<{ error?: string; errorDetail?: { message: string } }[]>((resolve, reject) =>
        docker.modem.followProgress(failing, (err: Error | null, out: { error?: string }[]) => (err ? reject(err) : resolve(out))),
      );
      expect(lines.find((m) => m.error)?.error).toBe("The command '/bin/sh -c exit 3' returned a non-zero code: 3");
      await expect(docker.getImage('dockerode/failed:v1').inspect()).rejects.toMatchObject({ statusCode: 404 });
      // A Dockerfile that does not parse is a 400 before any output, as dockerd answers it.
      writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:latest\nFLY away\n');
      await expect(docker.buildImage({ context: dir, src: ['Dockerfile'] }, { t: 'dockerode/failed:v1' })).rejects.toMatchObject({ statusCode: 400 });
      await docker.getImage('dockerode/built:v1').remove();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('valid routes a plugin-less, swarm-less engine still answers', async () => {
    expect(await docker.listPlugins()).toEqual([]);
    await expect(docker.listServices()).rejects.toMatchObject({ statusCode: 503 });
    await expect(docker.listNodes()).rejects.toMatchObject({ statusCode: 503 });
  });
});
