/** Replaced at bundle time with the project's package.json version. */
declare const __BERTH_VERSION__: string;
