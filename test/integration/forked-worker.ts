import { type ChildProcess, fork } from 'node:child_process';

/** How a worker process ended. */
export interface WorkerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * A worker process of a multi-process test (a fixture module run with tsx, given its config as JSON), and
 * the messages it sends. Messages are kept until taken, so one that arrives before the test waits for it is
 * not lost. A worker that sends `{ type: 'error' }` fails every wait at once, with what it said.
 *
 * @example
 * ```ts
 * const worker = new ForkedWorker<WorkerMessage>(WORKER_FILE, config);
 * await worker.next('ready');
 * await worker.stop();
 * ```
 */
export class ForkedWorker<Out extends { readonly type: string }, In = unknown> {
  readonly child: ChildProcess;
  readonly exited: Promise<WorkerExit>;
  /** Every message so far, in order of arrival. */
  readonly messages: Out[] = [];
  readonly #taken = new Set<Out>();
  readonly #listeners = new Set<() => void>();
  #exit: WorkerExit | undefined;

  constructor(file: string, config: unknown) {
    this.child = fork(file, [JSON.stringify(config)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: Out) => {
      this.messages.push(m);
      this.#notify();
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
        this.#notify();
      }),
    );
  }

  /** The first message of `type` not taken yet, waited for at most `timeoutMs`. */
  next<T extends Out['type']>(type: T, timeoutMs = 60_000): Promise<Extract<Out, { type: T }>> {
    return new Promise((resolve, reject) => {
      const finish = (settle: () => void) => {
        this.#listeners.delete(look);
        clearTimeout(timer);
        settle();
      };
      const look = () => {
        const error = this.messages.find((m) => m.type === 'error');
        if (error) return finish(() => reject(new Error(`worker failed: ${JSON.stringify(error)}`)));
        const message = this.messages.find((m) => m.type === type && !this.#taken.has(m));
        if (message) {
          this.#taken.add(message);
          return finish(() => resolve(message as Extract<Out, { type: T }>));
        }
        if (this.#exit) finish(() => reject(new Error(`worker exited while waiting for "${type}"`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`worker sent no "${type}" within ${timeoutMs} ms`))),
        timeoutMs,
      );
      this.#listeners.add(look);
      look();
    });
  }

  send(message: In | { readonly type: 'stop' }): void {
    this.child.send(message as Parameters<ChildProcess['send']>[0]);
  }

  /** Asks the worker to stop (`{ type: 'stop' }`), and kills it if it has not exited 10 s later. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}
