import type { QueueAddOptions } from 'p-queue';

/**
 * A job as p-queue hands it to its queue class.
 *
 * @example
 * ```ts
 * const job: TaskListJob = async () => {};
 * ```
 */
export type TaskListJob = () => Promise<unknown>;

/**
 * What `SessionQueue` passes to p-queue's `add` (and so to {@link TaskList.enqueue}).
 *
 * @example
 * ```ts
 * pq.add(job, { id: 't3', seq: 3 } satisfies TaskListOptions);
 * ```
 */
export type TaskListOptions = QueueAddOptions & {
  /** Order of the task in its queue: the order it was first added in. */
  readonly seq: number;
};

interface Item {
  readonly run: TaskListJob;
  readonly id: string;
  readonly seq: number;
}

/**
 * The waiting line of a `SessionQueue`, plugged into p-queue as its `queueClass`. Tasks stay in the order
 * they were first added in (`seq`), so a task that comes back after hitting its session's expiry goes back
 * to the front, before the tasks added after it, and never runs out of turn; tasks can be removed by id
 * (cancel, clear, a deleted session), which p-queue's own priority queue cannot do.
 *
 * @example
 * ```ts
 * const pq = new PQueue<TaskList, TaskListOptions>({ queueClass: TaskList, concurrency: 1 });
 * ```
 */
export class TaskList {
  readonly #items: Item[] = [];

  /** Tasks waiting. */
  get size(): number {
    return this.#items.length;
  }

  /** Inserts a task at its place in `seq` order (at the end for a new task, in O(1)). */
  enqueue(run: TaskListJob, options?: Partial<TaskListOptions>): void {
    const seq = options?.seq ?? Number.MAX_SAFE_INTEGER;
    const item: Item = { run, id: options?.id ?? String(seq), seq };
    const last = this.#items.at(-1);
    if (last === undefined || last.seq <= seq) {
      this.#items.push(item);
      return;
    }
    // A task coming back: binary search for the first item added after it.
    let lo = 0;
    let hi = this.#items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#items[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    this.#items.splice(lo, 0, item);
  }

  /** The next task to run. */
  dequeue(): TaskListJob | undefined {
    return this.#items.shift()?.run;
  }

  /** Removes a waiting task; false when it is not waiting here. */
  remove(id: string): boolean {
    const i = this.#items.findIndex((item) => item.id === id);
    if (i < 0) return false;
    this.#items.splice(i, 1);
    return true;
  }

  /** Removes every waiting task; returns their ids in the order they would have run. */
  clear(): string[] {
    return this.#items.splice(0).map((item) => item.id);
  }

  /** Ids of the waiting tasks, in the order they will run. */
  ids(): string[] {
    return this.#items.map((item) => item.id);
  }

  /** p-queue's `sizeBy`: tasks matching the options (only `id` is meaningful here). */
  filter(options: Readonly<Partial<TaskListOptions>>): TaskListJob[] {
    return this.#items.filter((item) => options.id === undefined || item.id === options.id).map((i) => i.run);
  }

  /** Order is the order of adding; priorities are not supported. */
  setPriority(_id: string, _priority: number): void {}
}
