// The library surface: re-exports only, after the check of the Node it runs on.
import './node-version.js';
export {fetchAll, type EntryInput, type EntrySource} from './fetch-all.js';
export {Semaphore, type Release} from './semaphore.js';
export {FetchallError, OutputError, UsageError, type ErrorCode} from './errors.js';
export type {FetchRecord, RecordError} from './record.js';
export type {FetchAllOptions} from './options.js';
export type {FetchAllRun, StopReason} from './run.js';
