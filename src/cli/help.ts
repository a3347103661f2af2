import { readFileSync } from 'node:fs';
import { COMMANDS, type CommandName, type CommandSpec, GLOBAL_OPTIONS } from './args.js';

/** The package version (from the package.json two levels up, both in `src/cli` and `dist/cli`). */
export function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const EXIT_CODES = `Exit codes:
  0    success
  1    the operation failed (login or check failed, some records not re-sealed, confirmation declined)
  2    usage or configuration error (bad arguments, missing or failing config, malformed input file)
  3    not found (no such session or auth)
  4    the session is expired: update its credentials or record it again
  5    infrastructure unavailable (site unreachable, proxy error, storage down, no browser)
  130  interrupted (Ctrl-C)`;

function optionLines(
  options: Readonly<Record<string, { short?: string; type: string; description: string }>>,
) {
  return Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ' <value>' : ''}`;
    return `  ${flag.padEnd(30)} ${o.description}`;
  });
}

/** The main help text. */
export function mainHelp(): string {
  const commands = Object.entries(COMMANDS as Record<string, CommandSpec>).map(([name, spec]) => {
    const usage = [name, ...spec.positionals.map((p) => `<${p}>`)].join(' ');
    return `  ${usage.padEnd(24)} ${spec.summary}`;
  });
  return `auth-sessions ${version()}: manage the auth sessions of your AuthSessionManager

Usage: auth-sessions <command> [arguments] [options]

The manager comes from auth-sessions.config.{ts,mts,mjs,js,cjs} in the working directory (or --config),
whose default export is an AuthSessionManager or a function returning one. A .ts config needs tsx
installed in your project (npm install --save-dev tsx).

Commands:
${commands.join('\n')}

Options:
${optionLines(GLOBAL_OPTIONS).join('\n')}
  -V, --version                  print the version

Run "auth-sessions <command> --help" for the options of a command.
Shell completion: eval "$(auth-sessions completion bash)" (or zsh; fish: auth-sessions completion fish | source).

${EXIT_CODES}
`;
}

/** The help of one command. */
export function commandHelp(command: CommandName): string {
  const spec: CommandSpec = COMMANDS[command];
  const usage = ['auth-sessions', command, ...spec.positionals.map((p) => `<${p}>`), '[options]'].join(' ');
  const own = optionLines(spec.options);
  return `${spec.summary}

Usage: ${usage}
${own.length ? `\nOptions:\n${own.join('\n')}\n` : ''}
Global options:
${optionLines(GLOBAL_OPTIONS).join('\n')}

Exit codes: see "auth-sessions --help".
`;
}
