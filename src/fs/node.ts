/**
 * node:fs/promises as Node has it, captured when this module is first
 * loaded: the fallback backend and the calls io_uring has no op for use
 * these, so that register mode (which replaces the builtin's functions with
 * ours) can never make them call back into us.
 */
import fsp from 'node:fs/promises';

export const nodeFsp: Readonly<typeof fsp> = Object.freeze({ ...fsp });
