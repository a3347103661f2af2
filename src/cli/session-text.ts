import type { HistoryEntry } from '../monitor/history.js';
import type { AuthSessionInfo } from '../session/info.js';
import type { CommandContext } from './command-context.js';
import { formatDuration, formatTime, stateStyle, table } from './output.js';

/** Labels as `name=value,name=value`. */
export function labelsText(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** One line about a session for people: `✔ id  auth  state  labels`. */
export function sessionLine(ctx: CommandContext, info: AuthSessionInfo, verb: string): string {
  const mark = info.state === 'active' ? ctx.paint('green', '✔') : ctx.paint('yellow', '!');
  const labels = labelsText(info.labels);
  return `${mark} ${verb} ${ctx.paint('bold', info.id)} (${info.auth}): ${ctx.paint(stateStyle(info.state), info.state)}${
    labels ? `  ${ctx.paint('dim', labels)}` : ''
  }`;
}

/** The history of a session as a table. */
export function historyTable(ctx: CommandContext, history: readonly HistoryEntry[]): string {
  const rows = history.map((e) => [
    formatTime(e.at),
    e.kind,
    ctx.paint(e.outcome === 'ok' ? 'green' : 'red', e.outcome),
    formatDuration(e.durationMs),
    e.error ? `${e.error.code}: ${e.error.message}` : '',
  ]);
  return table(['TIME', 'KIND', 'OUTCOME', 'DURATION', 'ERROR'], rows, ctx.paint);
}
