/**
 * Holds the process open while something awaits an operation: the manager's clock unrefs its timers (an
 * idle manager never keeps a process alive), but a script awaiting `result()` must not exit half-way.
 */
export function keepAlive(): () => void {
  const handle = setInterval(() => {}, 60 * 60_000);
  return () => clearInterval(handle);
}
