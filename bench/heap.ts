/**
 * Heap growth of the raw path: N NOPs through prepRw/submit/CQ reaping with
 * no allocation per op; heapUsed is sampled after a full GC every N/10 ops.
 * Prints {"ops","samples":[bytes…]}. Run with --expose-gc.
 */
import { IORING_OP } from '../src/abi/index.js';
import { queueInit, unsafe } from '../src/ring/index.js';

const { prepRw } = unsafe;

const total = Number(process.argv[2] ?? 10_000_000);
const gc = (globalThis as { gc?: () => void }).gc!;
const ring = queueInit(256, { flags: (1 << 12) | (1 << 13) });
const samples: number[] = [];
const step = total / 10;
let done = 0;
let submitted = 0;
gc();
samples.push(process.memoryUsage().heapUsed);
while (done < total) {
  for (let sqe = submitted < total ? ring.getSqe() : null; sqe !== null; sqe = submitted < total ? ring.getSqe() : null) {
    prepRw(IORING_OP.IORING_OP_NOP, sqe, -1, 0, 0, 0);
    submitted++;
  }
  ring.submitAndWait(1);
  const ready = ring.cqReady();
  ring.cqAdvance(ready);
  const before = done;
  done += ready;
  if (Math.floor(done / step) > Math.floor(before / step)) {
    gc();
    samples.push(process.memoryUsage().heapUsed);
  }
}
ring.queueExit();
console.log(JSON.stringify({ ops: total, samples }));
