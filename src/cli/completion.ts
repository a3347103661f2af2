import { closest, didYouMean } from '../suggest.js';
import { COMMANDS, type CommandSpec, GLOBAL_OPTIONS } from './args.js';
import { UsageError } from './exit-codes.js';

/** The shells `auth-sessions completion <shell>` writes a script for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;

type Shell = (typeof SHELLS)[number];

const commands = () => Object.entries(COMMANDS as Record<string, CommandSpec>);
const flagsOf = (spec: CommandSpec) => [
  ...Object.keys(spec.options).map((o) => `--${o}`),
  ...Object.keys(GLOBAL_OPTIONS).map((o) => `--${o}`),
];

/** A completion script for `shell`: command names, then the options of the command being typed. */
export function completionScript(shell: string): string {
  if (!(SHELLS as readonly string[]).includes(shell)) {
    throw new UsageError(
      `completion: the shell must be one of ${SHELLS.join(', ')}, got "${shell}".${didYouMean(closest(shell, SHELLS))}`,
    );
  }
  return { bash, zsh, fish }[shell as Shell]();
}

function bash(): string {
  const cases = commands()
    .map(([name, spec]) => `    ${name}) opts="${flagsOf(spec).join(' ')}" ;;`)
    .join('\n');
  return `# bash completion for auth-sessions. Load it with: eval "$(auth-sessions completion bash)"
_auth_sessions() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local cmd="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) cmd="\${COMP_WORDS[i]}"; break ;; esac
  done
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "${commands()
      .map(([n]) => n)
      .join(' ')} --help --version" -- "$cur"))
    return
  fi
  local opts=""
  case "$cmd" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _auth_sessions auth-sessions
`;
}

/** Single-quoted for POSIX shells and zsh. */
const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
const fishQuote = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

function zsh(): string {
  const described = commands()
    .map(([name, spec]) => `    ${quote(`${name}:${spec.summary.replaceAll(':', '\\:')}`)}`)
    .join('\n');
  const cases = commands()
    .map(([name, spec]) => `    ${name}) opts=(${flagsOf(spec).join(' ')}) ;;`)
    .join('\n');
  return `#compdef auth-sessions
# zsh completion for auth-sessions. Load it with: eval "$(auth-sessions completion zsh)"
_auth_sessions() {
  local -a subcommands opts
  subcommands=(
${described}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' subcommands
    return
  fi
  case "\${words[2]}" in
${cases}
  esac
  if [[ "\${words[CURRENT]}" == -* ]]; then
    compadd -- "\${opts[@]}"
  else
    _files
  fi
}
if (( $+functions[compdef] )); then compdef _auth_sessions auth-sessions; fi
`;
}

function fish(): string {
  const names = commands()
    .map(([n]) => n)
    .join(' ');
  const lines = [
    '# fish completion for auth-sessions. Load it with: auth-sessions completion fish | source',
    'complete -c auth-sessions -f',
    ...commands().map(
      ([name, spec]) =>
        `complete -c auth-sessions -n '__fish_use_subcommand' -a ${name} -d ${fishQuote(spec.summary)}`,
    ),
    ...commands().flatMap(([name, spec]) =>
      Object.entries({ ...spec.options, ...GLOBAL_OPTIONS }).map(
        ([option, o]) =>
          `complete -c auth-sessions -n '__fish_seen_subcommand_from ${name}' -l ${option}${
            o.type === 'string' ? ' -r' : ''
          } -d ${fishQuote(o.description)}`,
      ),
    ),
    `complete -c auth-sessions -n 'not __fish_seen_subcommand_from ${names}' -l help -d 'show help'`,
  ];
  return `${lines.join('\n')}\n`;
}
