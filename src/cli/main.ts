/**
 * The `uring` command: `uring doctor` (can this machine use io_uring, and if
 * not, why and how to fix it) and `uring probe` (features and opcodes).
 * Thin: it prints what diagnose/ returns. Exit status 1 when io_uring cannot
 * be used, 2 on bad usage.
 */
import { IORING_SETUP } from '../abi/constants.js';
import type { SetupOptions } from '../ring/params.js';

const USAGE = `usage: uring doctor [--json] [--entries N] [--cq-entries N] [--flag NAME]... [--quick]
       uring probe [--json]
NAME is a setup flag: sqpoll, iopoll, single_issuer, defer_taskrun, … or IORING_SETUP_SQPOLL`;

class UsageError extends Error {}

function parseArgs(args: string[]): { json: boolean; quick: boolean; entries?: number; setup: SetupOptions } {
  const out = { json: false, quick: false, entries: undefined as number | undefined, setup: { flags: 0 } as SetupOptions };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    const int = (v: string): number => {
      if (!/^\d+$/.test(v)) throw new UsageError(`${a}: '${v}' is not a non-negative integer`);
      return Number(v);
    };
    if (a === '--json') out.json = true;
    else if (a === '--quick') out.quick = true;
    else if (a === '--entries') out.entries = int(value());
    else if (a === '--cq-entries') out.setup.cqEntries = int(value());
    else if (a === '--flag' || a === '--flags') {
      for (const name of value().split(',')) {
        const key = `IORING_SETUP_${name.toUpperCase().replace(/^IORING_SETUP_/, '').replace(/-/g, '_')}`;
        const bit = (IORING_SETUP as Record<string, number>)[key];
        if (bit === undefined) throw new UsageError(`unknown setup flag '${name}'`);
        out.setup.flags = (out.setup.flags! | bit) >>> 0;
      }
    } else throw new UsageError(`unknown option '${a}'`);
  }
  return out;
}

async function doctor(args: string[]): Promise<number> {
  const opts = parseArgs(args);
  const { diagnose, formatBytes: fmt } = await import('../diagnose/index.js');
  const report = diagnose({ entries: opts.entries, setup: opts.setup, quick: opts.quick });
  if (opts.json) {
    console.log(JSON.stringify(report, null, 2));
    return report.ok ? 0 : 1;
  }
  const lines: string[] = [report.verdict, ''];
  const env = report.environment;
  lines.push(`kernel            ${env.kernel.release}`);
  lines.push(`io_uring_disabled ${env.ioUringDisabled ?? 'n/a (knob absent)'}${env.ioUringGroup !== null ? `, io_uring_group ${env.ioUringGroup}${env.inIoUringGroup ? ' (member)' : ''}` : ''}`);
  lines.push(`seccomp           ${['off', 'strict', `filter (${env.seccomp.filters})`][env.seccomp.mode] ?? env.seccomp.mode}`);
  lines.push(`container         ${env.container.likely ? env.container.hints.join('; ') : 'none detected'}`);
  lines.push(`capabilities      CAP_SYS_ADMIN ${env.capabilities.sysAdmin ? 'yes' : 'no'}, CAP_IPC_LOCK ${env.capabilities.ipcLock ? 'yes' : 'no'}, CAP_SYS_NICE ${env.capabilities.sysNice ? 'yes' : 'no'}`);
  lines.push(`RLIMIT_MEMLOCK    ${fmt(env.memlock.soft)} (hard ${fmt(env.memlock.hard)}); rings ${report.chargesMemlock ? 'ARE' : 'are not'} charged to it`);
  lines.push(`RLIMIT_NOFILE     ${env.nofile.soft} (hard ${env.nofile.hard}), ${env.openFds ?? '?'} open`);
  if (env.memAvailableBytes !== null) lines.push(`memory available  ${fmt(env.memAvailableBytes)}`);
  lines.push(`ring shape        ${report.shape.entries} entries${report.shape.flags.length ? `, ${report.shape.flags.join('|')}` : ''}: ${report.shape.ringBytes === null ? 'invalid' : fmt(report.shape.ringBytes)}, locked-memory need ${fmt(report.shape.mlockBytes)}`);
  if (report.setup.ok) lines.push(`granted           SQ ${report.setup.sqEntries}, CQ ${report.setup.cqEntries}`);
  if (report.largestEntries !== undefined) lines.push(`largest ring      ${report.largestEntries} entries with these flags`);
  if (report.flags) {
    const acc = report.flags.filter((f) => f.accepted).map((f) => f.name.replace('IORING_SETUP_', ''));
    const rej = report.flags.filter((f) => !f.accepted).map((f) => `${f.name.replace('IORING_SETUP_', '')} (${f.error})`);
    lines.push(`setup flags       accepted: ${acc.join(' ')}`);
    if (rej.length) lines.push(`                  refused: ${rej.join(' ')}`);
  }
  if (Array.isArray(report.opcodes)) lines.push(`opcodes           ${report.opcodes.length} supported`);
  if (report.findings.length) {
    lines.push('', 'findings:');
    for (const f of report.findings) {
      lines.push(`  [${f.severity}] ${f.message}`);
      for (const fix of f.fixes) lines.push(`      fix: ${fix}`);
    }
  }
  console.log(lines.join('\n'));
  return report.ok ? 0 : 1;
}


async function probe(args: string[]): Promise<number> {
  const json = args.includes('--json');
  const { probeOpcodes } = await import('../diagnose/index.js').catch((e: Error) => {
    console.log(json ? JSON.stringify({ ok: false, error: e.message }) : `io_uring: NOT USABLE — ${e.message}`);
    return { probeOpcodes: null };
  });
  if (!probeOpcodes) return 1;
  const { queueInit } = await import('../ring/index.js');
  let features: string[] = [];
  try {
    const r = queueInit(2);
    features = Object.entries(r.feature).filter(([, v]) => v).map(([k]) => k);
    r.queueExit();
  } catch (e) {
    const msg = (e as Error).message;
    console.log(json ? JSON.stringify({ ok: false, error: msg }) : `io_uring: NOT USABLE — ${msg}`);
    return 1;
  }
  const ops = probeOpcodes();
  const names = 'error' in ops ? [] : ops.names;
  if (json) console.log(JSON.stringify({ ok: true, features, opcodes: names, lastOp: 'error' in ops ? null : ops.lastOp }, null, 2));
  else {
    console.log(`features: ${features.join(', ')}`);
    console.log(`opcodes (${names.length}): ${names.map((n) => n.replace('IORING_OP_', '')).join(' ')}`);
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'doctor') return await doctor(rest);
    if (command === 'probe') return await probe(rest);
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown command '${command}'`);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`uring: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}
