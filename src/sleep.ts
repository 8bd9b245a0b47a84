// An abortable timer: the one way the library waits for time to pass.

/**
 * Resolve after `ms`, or reject with the signal's reason as soon as it aborts. Built on the global
 * setTimeout (not node:timers/promises), so tests' fake timers drive it too.
 * @example await sleep(500, signal)
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, {once: true});
  });
}
