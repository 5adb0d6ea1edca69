export { DEFAULT_MAX_DOCKERFILE_BYTES, INSTRUCTIONS, type Instruction, type InstructionName, jsonArray, type ParsedDockerfile, parseDockerfile } from './parse';
export { envLookup, expandWord, expandWords, type Lookup, splitKeepingQuotes } from './expand';
export { argPairs, type BuildPlan, planBuild, type Stage, stepCount } from './stages';
export { type CopyStep, DEFAULT_SHELL, type ImageConfig, parseDuration, type RunStep, StageState } from './evaluate';
export { contextFilter, readIgnorePatterns } from './ignore';
