/** Name lookups over the constant tables, for messages, the probe and the doctor. */
import { IORING_FEAT, IORING_OP, IORING_SETUP } from './constants.js';

const opNames: string[] = [];
for (const [name, value] of Object.entries(IORING_OP)) opNames[value] = name;

/** 'IORING_OP_READ' for 22; `IORING_OP_<n>` for an opcode newer than this table. */
export function opName(opcode: number): string {
  return opNames[opcode] ?? `IORING_OP_${opcode}`;
}

/** Names of the bits set in `value`, from a table of single-bit masks. */
export function flagNames(table: Readonly<Record<string, number>>, value: number): string[] {
  const names: string[] = [];
  let known = 0;
  for (const [name, bit] of Object.entries(table)) {
    if (bit !== 0 && (bit & (bit - 1)) === 0 && (value & bit) !== 0) {
      names.push(name);
      known |= bit;
    }
  }
  const unknown = (value & ~known) >>> 0;
  if (unknown !== 0) names.push(`0x${unknown.toString(16)}`);
  return names;
}

export const setupFlagNames = (flags: number): string[] => flagNames(IORING_SETUP, flags);
export const featureNames = (features: number): string[] => flagNames(IORING_FEAT, features);
