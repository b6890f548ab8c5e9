/**
 * `uring probe`: what this kernel offers io_uring users — the features a
 * ring reports and the opcodes IORING_REGISTER_PROBE lists. Prints what the
 * ring layer returns; `--json` for machines.
 */
import os from 'node:os';

export async function probeReport(): Promise<{ ok: boolean; kernel: string; features?: Record<string, boolean>; opcodes?: string[]; lastOp?: number; error?: { code: string; message: string } }> {
  const kernel = os.release();
  try {
    const ring = await import('../ring/index.js');
    const r = ring.queueInit(2);
    try {
      const probe = ring.getProbe(r);
      return { ok: true, kernel, features: r.feature, opcodes: [...probe.names], lastOp: probe.lastOp };
    } finally {
      r.queueExit();
    }
  } catch (e) {
    const err = e as { code?: string; message: string };
    return { ok: false, kernel, error: { code: err.code ?? 'ERROR', message: err.message } };
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command = 'probe', ...rest] = argv;
  if (command === '--help' || command === 'help') {
    console.log('usage: uring probe [--json]\n       uring doctor [--json]   (prints the probe; full diagnostics are in progress)');
    return 0;
  }
  if (command !== 'probe' && command !== 'doctor') {
    console.error(`uring: unknown command '${command}'. Try: uring probe, uring doctor`);
    return 2;
  }
  const report = await probeReport();
  if (rest.includes('--json')) {
    console.log(JSON.stringify(report, null, 2));
  } else if (report.ok) {
    console.log(`io_uring: usable on Linux ${report.kernel}`);
    console.log(`features: ${Object.entries(report.features!).filter(([, v]) => v).map(([k]) => k).join(', ')}`);
    console.log(`opcodes (${report.opcodes!.length}, last ${report.lastOp}): ${report.opcodes!.map((n) => n.replace('IORING_OP_', '')).join(' ')}`);
  } else {
    console.log(`io_uring: NOT usable on Linux ${report.kernel}`);
    console.log(report.error!.message);
  }
  return report.ok ? 0 : 1;
}
