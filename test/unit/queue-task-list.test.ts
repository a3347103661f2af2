import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TaskList } from '../../src/queue/task-list.js';

const job = () => Promise.resolve();

describe('TaskList (the waiting line of a session queue)', () => {
  it('keeps tasks in the order they were first added, whatever order they come back in', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 60 }),
        (seqs) => {
          const list = new TaskList();
          for (const seq of seqs) list.enqueue(job, { id: `t${seq}`, seq });
          expect(list.ids()).toEqual([...seqs].sort((a, b) => a - b).map((s) => `t${s}`));
          expect(list.size).toBe(seqs.length);
        },
      ),
    );
  });

  it('puts a task coming back in front of the tasks added after it', () => {
    const list = new TaskList();
    for (const seq of [4, 5, 6]) list.enqueue(job, { id: `t${seq}`, seq });
    list.enqueue(job, { id: 't3', seq: 3 });
    list.enqueue(job, { id: 't1', seq: 1 });
    expect(list.ids()).toEqual(['t1', 't3', 't4', 't5', 't6']);
    expect(list.dequeue()).toBe(job);
    expect(list.ids()).toEqual(['t3', 't4', 't5', 't6']);
  });

  it('removes by id and clears', () => {
    const list = new TaskList();
    for (const seq of [1, 2, 3]) list.enqueue(job, { id: `t${seq}`, seq });
    expect(list.remove('t2')).toBe(true);
    expect(list.remove('t2')).toBe(false);
    expect(list.filter({ id: 't3' })).toHaveLength(1);
    expect(list.clear()).toEqual(['t1', 't3']);
    expect(list.size).toBe(0);
    expect(list.dequeue()).toBeUndefined();
  });
});
