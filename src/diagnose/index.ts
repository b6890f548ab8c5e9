/**
 * diagnose/ — why io_uring setup fails here and how to fix it.
 *
 * Importing this module changes nothing anywhere: a UringError from
 * queueInit carries its errno and what was asked (`err.setup`); explain(err)
 * and diagnose() are called by whoever wants the full story, and measure
 * then (a child process once per boot, a few registrations, a few rings).
 */
export * from './environment.js';
export * from './memlock.js';
export * from './explain.js';
export * from './probe.js';
export * from './adaptive.js';
export * from './report.js';
