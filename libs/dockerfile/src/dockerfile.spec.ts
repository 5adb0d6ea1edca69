import { describe, expect, it } from 'vitest';
import { contextFilter, expandWord, expandWords, envLookup, parseDockerfile, planBuild, StageState, stepCount } from './index';

const state = (df: string, buildArgs: Record<string, string> = {}) => {
  const p = parseDockerfile(df);
  const plan = planBuild(p, buildArgs);
  const s = new StageState({ Env: ['PATH=/bin'], Cmd: ['sh'] }, buildArgs, plan.metaValues, p.escape);
  const history = plan.stages[0]!.commands.map((i) => (i.name === 'run' ? s.run(i).createdBy : i.name === 'copy' || i.name === 'add' ? s.copy(i).dest : s.apply(i)));
  return { s, plan, history };
};

describe('parseDockerfile', () => {
  it('joins continuations, drops comments inside them, keeps the original text', () => {
    const p = parseDockerfile('FROM busybox\n# c\nRUN echo a \\\n# inner\n  b\n\nrun ["x", "y"]\n');
    expect(p.instructions.map((i) => i.name)).toEqual(['from', 'run', 'run']);
    expect(p.instructions[1]!.original).toBe('RUN echo a   b');
    expect(p.instructions[1]!.line).toBe(3);
    expect(p.instructions[2]).toMatchObject({ json: true, args: ['x', 'y'] });
  });

  it('honours the escape directive and notes syntax', () => {
    const p = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN a `\n b\n');
    expect(p.escape).toBe('`');
    expect(p.warnings[0]).toContain('syntax');
    expect(p.instructions[1]!.original).toBe('RUN a  b');
  });

  it('refuses unknown instructions and empty files with Docker\'s messages', () => {
    expect(() => parseDockerfile('FROM x\nFOO bar\n')).toThrow('dockerfile parse error line 2: unknown instruction: FOO');
    expect(() => parseDockerfile('# only a comment\n')).toThrow('cannot be empty');
    expect(() => parseDockerfile('FROM x\nONBUILD ONBUILD RUN x')).toThrow("isn't allowed");
  });

  it('splits flags', () => {
    const p = parseDockerfile('FROM --platform=linux/amd64 x AS b\nCOPY --from=b --chown=1:2 a /b\n');
    expect(p.instructions[0]!.flags).toEqual([['platform', 'linux/amd64']]);
    expect(p.instructions[1]!.flags).toEqual([['from', 'b'], ['chown', '1:2']]);
  });

  it('parses a 100 000-line Dockerfile', () => {
    const p = parseDockerfile('FROM x\n' + 'ENV A=1\n'.repeat(100_000));
    expect(p.instructions.length).toBe(100_001);
  });
});

describe('expansion', () => {
  const env = envLookup(['A=1', 'E=']);
  it('expands $a, ${a}, defaults and alternatives, respects quotes', () => {
    expect(expandWord('$A-${A}', env)).toBe('1-1');
    expect(expandWord('${B:-x}${E:-y}${E-z}', env)).toBe('xy');
    expect(expandWord('${A:+set}${B:+no}${E+alt}', env)).toBe('setalt');
    expect(expandWord("'$A'\"$A\"\\$A", env)).toBe('$A1$A');
    expect(expandWords('a "b c" d\\ e', env)).toEqual(['a', 'b c', 'd e']);
    expect(() => expandWord('${B:?required}', env)).toThrow('B: required');
  });
});

describe('planBuild', () => {
  it('meta ARGs feed FROM, build args override them, target cuts stages', () => {
    const p = parseDockerfile('ARG V=1\nFROM img:$V AS one\nRUN a\nFROM one AS two\nRUN b\n');
    const plan = planBuild(p, { V: '2' }, 'one');
    expect(plan.stages.map((s) => s.base)).toEqual(['img:2']);
    expect(stepCount(plan)).toBe(3);
    expect(() => planBuild(p, {}, 'nope')).toThrow('failed to reach build target nope in Dockerfile');
    expect(() => planBuild(parseDockerfile('FROM a b'), {})).toThrow('FROM requires either one or three arguments');
    expect(() => planBuild(parseDockerfile('RUN x'), {})).toThrow('no build stage');
  });
});

describe('StageState', () => {
  it('ENTRYPOINT resets an inherited CMD but not one set in the stage', () => {
    expect(state('FROM b\nENTRYPOINT ["e"]\n').s.config).toMatchObject({ Entrypoint: ['e'], Cmd: null });
    expect(state('FROM b\nCMD ["c"]\nENTRYPOINT e\n').s.config).toMatchObject({ Entrypoint: ['/bin/sh', '-c', 'e'], Cmd: ['c'] });
  });

  it('ENV, LABEL, ARG, EXPOSE, WORKDIR, USER, VOLUME, HEALTHCHECK, SHELL', () => {
    const { s, history } = state(
      'FROM b\nARG who=me\nENV A=1 B="two words" C=${who}\nENV D legacy value\nLABEL "k"=v\nEXPOSE 80 53/udp\nWORKDIR /a\nWORKDIR b\nUSER $who\nVOLUME ["/v"]\nHEALTHCHECK --interval=1m30s --retries=3 CMD true\nSHELL ["/bin/bash", "-c"]\nRUN echo hi\n',
      { who: 'you' },
    );
    expect(s.config.Env).toEqual(['PATH=/bin', 'A=1', 'B=two words', 'C=you', 'D=legacy value']);
    expect(s.config.Labels).toEqual({ k: 'v' });
    expect(Object.keys(s.config.ExposedPorts!)).toEqual(['80/tcp', '53/udp']);
    expect(s.config.WorkingDir).toBe('/a/b');
    expect(s.config.User).toBe('you');
    expect(s.config.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'true'], Interval: 90e9, Retries: 3 });
    expect(history[1]).toBe('/bin/sh -c #(nop)  ENV A=1 B=two words C=you');
    expect(history.at(-1)).toBe('|1 who=you /bin/bash -c echo hi');
  });

  it('refuses bad ENV and bad ports', () => {
    expect(() => state('FROM b\nENV A=1 B\n')).toThrow("can't find = in \"B\"");
    expect(() => state('FROM b\nEXPOSE abc\n')).toThrow('Invalid containerPort: abc');
    expect(() => state('FROM b\nCOPY a\n')).toThrow('Destination could not be determined');
  });

  it('resolves COPY destinations against WORKDIR', () => {
    const p = parseDockerfile('FROM b\nWORKDIR /app\nCOPY --chown=1:1 a b ./\n');
    const s = new StageState({}, {}, {});
    s.apply(p.instructions[1]!);
    expect(s.copy(p.instructions[2]!)).toMatchObject({ sources: ['a', 'b'], dest: '/app/', chown: '1:1' });
  });
});

describe('contextFilter', () => {
  it('applies ** and ! and always keeps the Dockerfile and .dockerignore', () => {
    const keep = contextFilter(['**/*.log', '!keep.log', 'Dockerfile', '.dockerignore', 'secret'], 'Dockerfile');
    expect(['a.log', 'x/y/b.log', 'keep.log', 'Dockerfile', '.dockerignore', 'secret', 'secret/x', 'src/a'].filter(keep)).toEqual([
      'keep.log',
      'Dockerfile',
      '.dockerignore',
      'src/a',
    ]);
  });
});
