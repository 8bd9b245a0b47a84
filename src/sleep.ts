// An abortable timer: the one way the library waits for time to pass.
import {setTimeout as delay} from 'node:timers/promises';

/**
 * Resolve after `ms`, or reject with the signal's reason as soon as it aborts.
 * @example await sleep(500, signal)
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return signal?.aborted ? Promise.reject(signal.reason) : Promise.resolve();
  return delay(ms, undefined, signal === undefined ? undefined : {signal}).catch((error: unknown) => {
    throw signal?.aborted ? signal.reason : error;
  });
}
