/**
 * The kernel ABI of io_uring as data: constants (flag bits, opcodes, offsets)
 * and struct layouts. Everything above this layer reads these instead of
 * writing numbers.
 */
export * from './constants.js';
export * from './structs.js';
export * from './names.js';
export * from './errno.js';
