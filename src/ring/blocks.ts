/** Reusable blocks for small kernel structs (no native code: the fs layer imports it without loading the addon). */

/**
 * Fixed-size blocks carved from one ArrayBuffer, reused: for the small
 * structs an op hands the kernel (statx results, paths of a chain), so that
 * no ArrayBuffer is created per op (creating one cost ~300 ns here). A
 * block must be given back only once its op has completed.
 */
export class BlockPool {
  readonly #size: number;
  readonly #perSlab: number;
  readonly #free: Uint8Array[] = [];
  readonly #max: number;

  constructor(size: number, perSlab = 256, max = 4096) {
    this.#size = (size + 15) & ~15;
    this.#perSlab = perSlab;
    this.#max = max;
  }

  take(): Uint8Array {
    const b = this.#free.pop();
    if (b !== undefined) return b;
    const slab = new ArrayBuffer(this.#size * this.#perSlab);
    for (let i = 1; i < this.#perSlab; i++) this.#free.push(new Uint8Array(slab, i * this.#size, this.#size));
    return new Uint8Array(slab, 0, this.#size);
  }

  give(block: Uint8Array): void {
    if (this.#free.length < this.#max) this.#free.push(block);
  }
}
