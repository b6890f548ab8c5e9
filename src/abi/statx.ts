/**
 * Readers of a struct statx filled by the kernel (IORING_OP_STATX / statx(2)),
 * by the layout in structs.ts. Kept apart from the driver so that the fs API
 * can read statx results without importing the ring layer (and the addon).
 */
import { statx as statxLayout } from './structs.js';

/** st_size of a struct statx buffer (stx_size, a little-endian u64). */
export function statxSize(stx: Uint8Array): number {
  const view = new DataView(stx.buffer, stx.byteOffset, stx.byteLength);
  return view.getUint32(statxLayout.off.stx_size, true) + view.getUint32(statxLayout.off.stx_size + 4, true) * 0x1_0000_0000;
}

/** The file type bits (S_IFMT) of a struct statx buffer's stx_mode. */
export function statxType(stx: Uint8Array): number {
  return new DataView(stx.buffer, stx.byteOffset, stx.byteLength).getUint16(statxLayout.off.stx_mode, true) & 0o170000;
}

export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFMT = 0o170000;
