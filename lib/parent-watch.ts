/**
 * For processes started by the local stack (`--exit-with-parent`): when the parent that
 * started us is gone (killed without a chance to stop us), shut down instead of lingering.
 */
export function exitWhenParentDies(shutdown: () => void | Promise<void>): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      void shutdown();
    }
  }, 1000);
  timer.unref();
}
