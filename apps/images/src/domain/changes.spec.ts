import { describe, expect, it } from 'vitest';
import { applyChanges } from './changes';

describe('--change HEALTHCHECK', () => {
  it('takes the shell form, the exec form, options and NONE', () => {
    expect(applyChanges({}, ['HEALTHCHECK --interval=1s --timeout=500ms --start-period=1m30s --retries=4 CMD wget -q localhost || exit 1']).Healthcheck).toEqual({
      Test: ['CMD-SHELL', 'wget -q localhost || exit 1'],
      Interval: 1e9,
      Timeout: 5e8,
      StartPeriod: 90e9,
      Retries: 4,
    });
    expect(applyChanges({}, ['HEALTHCHECK CMD ["true", "x"]']).Healthcheck).toEqual({ Test: ['CMD', 'true', 'x'] });
    expect(applyChanges({}, ['HEALTHCHECK NONE']).Healthcheck).toEqual({ Test: ['NONE'] });
  });

  it('refuses what Docker refuses', () => {
    expect(() => applyChanges({}, ['HEALTHCHECK RUN true'])).toThrow('Unknown type "RUN" in HEALTHCHECK (try CMD)');
    expect(() => applyChanges({}, ['HEALTHCHECK --interval=fast CMD true'])).toThrow('time: invalid duration "fast"');
    expect(applyChanges({}, ['HEALTHCHECK --timeout=1.5s CMD true']).Healthcheck!.Timeout).toBe(1.5e9);
  });
});

describe('--change through the Dockerfile library', () => {
  it('means what the same line means in a Dockerfile', () => {
    const c = applyChanges({ Env: ['A=1'], Cmd: ['sh'] }, ['ENV B=${A}2 C="x y"', 'EXPOSE 80 90-91/udp', 'LABEL "k k"=v', 'ENTRYPOINT ["/bin/app"]', 'WORKDIR /srv']);
    expect(c.Env).toEqual(['A=1', 'B=12', 'C=x y']);
    expect(Object.keys(c.ExposedPorts!)).toEqual(['80/tcp', '90/udp', '91/udp']);
    expect(c.Labels).toEqual({ 'k k': 'v' });
    // An ENTRYPOINT resets the CMD it did not set, as in a build.
    expect(c.Entrypoint).toEqual(['/bin/app']);
    expect(c.Cmd).toBeNull();
    expect(c.WorkingDir).toBe('/srv');
    expect(applyChanges({}, ['CMD echo hi'])).toEqual({ Cmd: ['/bin/sh', '-c', 'echo hi'] });
  });

  it('refuses build-only instructions and bad lines with Docker\'s words', () => {
    expect(() => applyChanges({}, ['RUN true'])).toThrow('RUN is not a valid change command');
    expect(() => applyChanges({}, ['EXPOSE http'])).toThrow('Invalid containerPort: http');
    expect(() => applyChanges({}, ['=nothing'])).toThrow('invalid change');
  });
});
