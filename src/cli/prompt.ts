import { InterruptedError } from './exit-codes.js';
import { type OutStream, safeText } from './output.js';

/** A readable stream as the prompts use it (process.stdin on a terminal, or a test double). */
export interface InStream {
  readonly isTTY?: boolean;
  readonly isRaw?: boolean;
  setRawMode?(mode: boolean): unknown;
  setEncoding(encoding: BufferEncoding): unknown;
  on(event: 'data', listener: (chunk: string | Buffer) => void): unknown;
  off(event: 'data', listener: (chunk: string | Buffer) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

/**
 * Asks a question on a terminal and reads the answer without echoing it (raw mode: nothing typed is shown,
 * not even stars, so its length stays private too). Backspace and Ctrl-U edit; Enter ends; Ctrl-C and Ctrl-D
 * (on an empty answer) throw {@link InterruptedError}.
 */
export function promptHidden(input: InStream, output: OutStream, question: string): Promise<string> {
  return readKeys(input, output, question, false);
}

/** Asks a question on a terminal and reads the answer, echoed (for what is not a secret: a user name). */
export function promptVisible(input: InStream, output: OutStream, question: string): Promise<string> {
  return readKeys(input, output, question, true);
}

/** Asks a yes/no question on a terminal (echoed); true only for `y` or `yes`. */
export async function confirm(input: InStream, output: OutStream, question: string): Promise<boolean> {
  const answer = await readKeys(input, output, `${question} [y/N] `, true);
  return /^(y|yes)$/i.test(answer.trim());
}

function readKeys(input: InStream, output: OutStream, question: string, echo: boolean): Promise<string> {
  if (typeof input.setRawMode !== 'function') {
    return Promise.reject(new Error('A prompt needs a terminal'));
  }
  // Echo goes off before the question shows: whatever is typed once the question is visible is never echoed.
  const wasRaw = input.isRaw === true;
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  output.write(safeText(question, true));
  return new Promise<string>((resolve, reject) => {
    let value = '';
    const finish = (error?: Error) => {
      input.off('data', onData);
      input.setRawMode?.(wasRaw);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string | Buffer) => {
      const text = String(chunk);
      for (let i = 0; i < text.length; i++) {
        const ch = text[i]!;
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new InterruptedError('Interrupted'));
        if (ch === '\u0004') {
          if (value === '') return finish(new InterruptedError('No answer'));
          return finish();
        }
        if (ch === '\u007f' || ch === '\b') {
          if (value.length > 0) {
            value = value.slice(0, -1);
            if (echo) output.write('\b \b');
          }
          continue;
        }
        if (ch === '\u0015') {
          if (echo) output.write('\b \b'.repeat(value.length));
          value = '';
          continue;
        }
        // An escape sequence (arrow keys…) arrives whole in one chunk: skip the rest of it.
        if (ch === '\u001b') break;
        if (ch < ' ') continue;
        value += ch;
        if (echo) output.write(ch);
      }
    };
    input.on('data', onData);
  });
}
