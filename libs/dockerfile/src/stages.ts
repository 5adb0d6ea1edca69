import { invalidArgument } from '@berth/errors';
import { envLookup, expandWords } from './expand';
import type { Instruction, ParsedDockerfile } from './parse';

/** One `FROM ... [AS name]` and the instructions up to the next FROM. */
export interface Stage {
  index: number;
  /** Lower-cased alias, or '' when the stage has none. */
  name: string;
  /** The base reference with meta ARGs expanded ("scratch", an image, or an earlier stage). */
  base: string;
  platform: string;
  from: Instruction;
  commands: Instruction[];
}

export interface BuildPlan {
  /** ARGs before the first FROM: they count as steps and feed FROM lines. */
  metaArgs: Instruction[];
  /** Meta ARG values after build args were applied. */
  metaValues: Record<string, string>;
  stages: Stage[];
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

const instrError = (i: Instruction, msg: string) => invalidArgument(`dockerfile parse error line ${i.line}: ${msg}`);

/** `ARG name[=default]` split into its pairs (several in one ARG are allowed). */
export function argPairs(i: Instruction, escape = '\\'): [string, string | undefined][] {
  const text = i.args[0] ?? '';
  if (!text) throw instrError(i, 'ARG requires exactly one argument');
  return expandWords(text, () => undefined, escape).map((w) => {
    const eq = w.indexOf('=');
    return eq < 0 ? [w, undefined] : [w.slice(0, eq), w.slice(eq + 1)];
  }) as [string, string | undefined][];
}

/**
 * Splits a parsed Dockerfile into stages as the classic builder does: meta ARGs first
 * (build args override their defaults), FROM lines expanded with those only, stage names
 * checked and unique, and everything after `target` dropped.
 */
export function planBuild(p: ParsedDockerfile, buildArgs: Record<string, string | undefined>, target = ''): BuildPlan {
  const metaArgs: Instruction[] = [];
  const metaValues: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const i of p.instructions) {
    if (i.name === 'from') {
      const words = expandWords(i.args[0] ?? '', envLookup(metaValues), p.escape);
      if (words.length !== 1 && !(words.length === 3 && words[1]!.toLowerCase() === 'as')) {
        throw instrError(i, 'FROM requires either one or three arguments');
      }
      for (const [k] of i.flags) if (k !== 'platform') throw instrError(i, `Unknown flag: ${k}`);
      const name = words.length === 3 ? words[2]!.toLowerCase() : '';
      if (name && !STAGE_NAME.test(name)) throw instrError(i, `invalid name for build stage: "${words[2]}", name can't start with a number or contain symbols`);
      if (name && stages.some((s) => s.name === name)) throw instrError(i, `duplicate name ${name}`);
      const platform = i.flags.find(([k]) => k === 'platform')?.[1] ?? '';
      stages.push({ index: stages.length, name, base: words[0]!, platform: expandWords(platform, envLookup(metaValues))[0] ?? '', from: i, commands: [] });
      continue;
    }
    const cur = stages.at(-1);
    if (cur) {
      cur.commands.push(i);
      continue;
    }
    if (i.name !== 'arg') throw instrError(i, 'no build stage in current context');
    metaArgs.push(i);
    for (const [k, v] of argPairs(i, p.escape)) {
      const given = buildArgs[k];
      if (given !== undefined) metaValues[k] = given;
      else if (v !== undefined) metaValues[k] = expandWords(v, envLookup(metaValues), p.escape).join(' ');
    }
  }
  if (stages.length === 0) throw invalidArgument('No image was generated. Is your Dockerfile empty?');
  if (target) {
    const t = stages.findIndex((s) => s.name === target.toLowerCase());
    if (t < 0) throw invalidArgument(`failed to reach build target ${target} in Dockerfile`);
    stages.length = t + 1;
  }
  return { metaArgs, metaValues, stages };
}

/** How many `Step N/M` lines the build prints: meta ARGs, each FROM and each instruction. */
export function stepCount(plan: BuildPlan): number {
  return plan.metaArgs.length + plan.stages.reduce((n, s) => n + 1 + s.commands.length, 0);
}
