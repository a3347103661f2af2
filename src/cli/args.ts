import { type ParseArgsConfig, parseArgs } from 'node:util';
import { closest, didYouMean } from '../suggest.js';
import { UsageError } from './exit-codes.js';

type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { readonly description: string };

/** Options every command takes. */
export const GLOBAL_OPTIONS = {
  config: {
    type: 'string',
    short: 'c',
    description: 'config module (default: ./auth-sessions.config.{ts,mjs,js})',
  },
  json: { type: 'boolean', description: 'print one JSON document on stdout (for scripts)' },
  color: { type: 'boolean', description: 'force colours' },
  'no-color': { type: 'boolean', description: 'no colours (also: NO_COLOR=1)' },
  verbose: { type: 'boolean', short: 'v', description: 'show the causes of errors' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
} as const satisfies Record<string, OptionSpec>;

/** A command of the CLI: its positionals, options and help. */
export interface CommandSpec {
  readonly summary: string;
  readonly positionals: readonly string[];
  readonly options: Readonly<Record<string, OptionSpec>>;
}

const label = {
  type: 'string',
  multiple: true,
  short: 'l',
  description: 'label key=value (repeatable)',
} as const;

const credentialsFile = {
  type: 'string',
  description: 'read the credentials from this JSON file (- for stdin)',
} as const;
const credentialsStdin = { type: 'boolean', description: 'read the credentials as JSON from stdin' } as const;

/** Every command, in help order. */
export const COMMANDS = {
  list: {
    summary: 'list sessions (table: id, auth, state, age, last check, labels)',
    positionals: [],
    options: {
      auth: { type: 'string', description: 'only sessions of this auth' },
      state: { type: 'string', multiple: true, description: 'only sessions in this state (repeatable)' },
      label: { ...label, description: 'only sessions with this label key=value (repeatable)' },
      limit: { type: 'string', description: 'at most this many sessions' },
    },
  },
  show: {
    summary: 'show a session and its history',
    positionals: ['id'],
    options: { limit: { type: 'string', description: 'at most this many history entries (the latest)' } },
  },
  validate: {
    summary: 'check a session now (refreshing it when it can); exit 4 when expired',
    positionals: ['id'],
    options: {},
  },
  create: {
    summary: 'log in with credentials and store the session (prompts for each field on a terminal)',
    positionals: ['auth'],
    options: {
      id: { type: 'string', description: 'session id (default: a random UUID)' },
      label,
      'credentials-file': credentialsFile,
      'credentials-stdin': credentialsStdin,
    },
  },
  record: {
    summary: 'record a session: a browser opens, a person logs in',
    positionals: ['auth'],
    options: {
      id: { type: 'string', description: 'session id (an existing one is recorded again)' },
      label,
      timeout: { type: 'string', description: 'how long the person has, e.g. 300, 90s, 10m (default 10m)' },
    },
  },
  update: {
    summary: 'give a session new credentials (prompted on a terminal) or labels',
    positionals: ['id'],
    options: {
      'credentials-file': credentialsFile,
      'credentials-stdin': credentialsStdin,
      label: { ...label, description: 'set a label key=value (repeatable; merged with the existing ones)' },
      'remove-label': { type: 'string', multiple: true, description: 'remove a label (repeatable)' },
    },
  },
  delete: {
    summary: 'delete a session and its secrets',
    positionals: ['id'],
    options: { yes: { type: 'boolean', short: 'y', description: 'do not ask for confirmation' } },
  },
  export: {
    summary: "write a session's browser state (a secret!) as Playwright storageState JSON",
    positionals: ['id'],
    options: {
      out: { type: 'string', short: 'o', description: 'write to this file (mode 0600) instead of stdout' },
      force: { type: 'boolean', description: 'overwrite the --out file' },
    },
  },
  import: {
    summary: 'store a browser state file (Playwright storageState JSON, - for stdin) as a session',
    positionals: ['auth', 'file'],
    options: {
      id: { type: 'string', description: 'session id (an existing one of the same auth gets the state)' },
      label,
      'no-check': { type: 'boolean', description: 'store without checking that the state is logged in' },
      'credentials-file': {
        type: 'string',
        description: 'credentials to log in again with when the imported login ends (credentials auths)',
      },
    },
  },
  'rotate-key': {
    summary: 'seal every stored secret with the current key (after adding a new key to the keyring)',
    positionals: [],
    options: {},
  },
  serve: {
    summary: 'serve the web console; prints its URL with a sign-in token (Ctrl-C stops it)',
    positionals: [],
    options: {
      port: { type: 'string', short: 'p', description: 'TCP port (default 4000; 0 picks a free one)' },
      host: {
        type: 'string',
        description:
          'interface to listen on (default 127.0.0.1; anything else exposes the console to the network)',
      },
    },
  },
  completion: {
    summary: 'print a shell completion script: bash, zsh or fish',
    positionals: ['shell'],
    options: {},
  },
} as const satisfies Record<string, CommandSpec>;

/** Name of a command. */
export type CommandName = keyof typeof COMMANDS;

/** A parsed command line. */
export interface ParsedArgs {
  /** The command, or undefined for a bare `auth-sessions`, `--help` or `--version`. */
  readonly command: CommandName | undefined;
  readonly positionals: Readonly<Record<string, string>>;
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly version: boolean;
}

const ALL_OPTIONS = Object.assign(
  { version: { type: 'boolean', short: 'V', description: 'print the version' } },
  GLOBAL_OPTIONS,
  ...Object.values(COMMANDS).map((c) => c.options),
) as Record<string, OptionSpec>;

/** Parses the command line; throws {@link UsageError} on anything unexpected. */
export function parseCommandLine(argv: readonly string[]): ParsedArgs {
  // First pass, lenient: find the command word (options may come before it).
  let first: string | undefined;
  try {
    const { tokens } = parseArgs({
      args: [...argv],
      options: stripDescriptions(ALL_OPTIONS),
      strict: false,
      allowPositionals: true,
      tokens: true,
    });
    first = tokens.find((t) => t.kind === 'positional')?.value;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (first === undefined) {
    const { values } = strictParse(argv, { version: ALL_OPTIONS.version!, ...GLOBAL_OPTIONS });
    // A bare `auth-sessions` shows the help.
    return { command: undefined, positionals: {}, values, version: values.version === true };
  }
  if (!Object.hasOwn(COMMANDS, first)) {
    throw new UsageError(`Unknown command "${first}".${didYouMean(closest(first, Object.keys(COMMANDS)))}`);
  }
  const command = first as CommandName;
  const spec: CommandSpec = COMMANDS[command];
  const { values, positionals } = strictParse(argv, { ...GLOBAL_OPTIONS, ...spec.options });
  const args = positionals.slice(1);
  if (values.help) return { command, positionals: {}, values, version: false };
  if (args.length < spec.positionals.length) {
    const missing = spec.positionals.slice(args.length).map((p) => `<${p}>`);
    throw new UsageError(`${command}: missing ${missing.join(' ')}`);
  }
  if (args.length > spec.positionals.length) {
    throw new UsageError(`${command}: unexpected argument "${args[spec.positionals.length]}"`);
  }
  const named = Object.fromEntries(spec.positionals.map((name, i) => [name, args[i]!]));
  return { command, positionals: named, values, version: false };
}

function strictParse(argv: readonly string[], options: Record<string, OptionSpec>) {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: stripDescriptions(options),
      strict: true,
      allowPositionals: true,
    });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (err) {
    // Node's messages are good ("Unknown option '--x'"), minus the advice about "--" for positionals.
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    const unknown = /^Unknown option '--([^'=]+)/.exec(message)?.[1];
    const suggestion = unknown === undefined ? undefined : closest(unknown, Object.keys(options));
    throw new UsageError(`${message}${didYouMean(suggestion === undefined ? undefined : `--${suggestion}`)}`);
  }
}

function stripDescriptions(options: Record<string, OptionSpec>): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(
    Object.entries(options).map(([name, { description: _d, ...spec }]) => [name, spec]),
  ) as NonNullable<ParseArgsConfig['options']>;
}

/** `key=value` pairs into an object; throws {@link UsageError} for a malformed one. */
export function parseLabels(
  pairs: readonly string[] | undefined,
  option = '--label',
): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`${option} must be key=value, got "${pair}"`);
    const key = pair.slice(0, eq);
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
      throw new UsageError(`${option}: "${key}" cannot be a label name`);
    }
    labels[key] = pair.slice(eq + 1);
  }
  return labels;
}

/**
 * A duration: a bare number is seconds; suffixes `ms`, `s`, `m`, `h`. Returns milliseconds; throws
 * {@link UsageError} for anything else.
 */
export function parseDuration(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new UsageError(`${option} must be a duration like 300, 90s, 10m or 1h, got "${text}"`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  const ms = Math.round(Number(match[1]) * factor);
  if (!(ms > 0)) throw new UsageError(`${option} must be more than 0`);
  return ms;
}

/** A positive integer option; throws {@link UsageError} otherwise. */
export function parseCount(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new UsageError(`${option} must be a positive integer, got "${text}"`);
  }
  return Number(text);
}
