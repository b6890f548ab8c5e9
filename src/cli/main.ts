/**
 * The `uring` command: `uring doctor` (can this machine use io_uring, and if
 * not, why and how to fix it) and `uring probe` (features and opcodes).
 * Thin: it prints what diagnose/ returns.
 *
 * Exit status (documented in the README and docs/troubleshooting.md):
 *   0  the requested ring can be created
 *   1  io_uring cannot be used here (no ring of any size); uring/fs runs on node:fs
 *   2  usage error (one line on stderr)
 *   3  the requested shape is invalid, or uses a flag this kernel lacks; io_uring works
 *   4  the requested ring does not fit now (ENOMEM), a smaller one does
 */
import { IORING_SETUP } from '../abi/constants.js';
import type { SetupOptions } from '../ring/params.js';

const USAGE = `usage: uring doctor [--json] [--entries N] [--cq-entries N] [--flag NAME]... [--quick] [--fresh]
       uring probe [--json]
N is an integer from 0 to 4294967295 (what io_uring_setup(2) takes); NAME is a setup flag:
sqpoll, iopoll, single_issuer, defer_taskrun, … or IORING_SETUP_SQPOLL.
exit status: 0 ok, 1 io_uring unusable here, 2 usage, 3 invalid ring shape (io_uring works), 4 ring too large for the limits now`;

class UsageError extends Error {}

const U32_MAX = 0xffffffff;

function parseArgs(args: string[]): { json: boolean; quick: boolean; fresh: boolean; entries?: number; setup: SetupOptions } {
  const out = { json: false, quick: false, fresh: false, entries: undefined as number | undefined, setup: { flags: 0 } as SetupOptions };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    const u32 = (v: string): number => {
      if (!/^\d+$/.test(v)) throw new UsageError(`${a} ${v}: not a non-negative integer`);
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n > U32_MAX) throw new UsageError(`${a} ${v}: out of range, must be from 0 to ${U32_MAX}`);
      return n;
    };
    if (a === '--json') out.json = true;
    else if (a === '--quick') out.quick = true;
    else if (a === '--fresh') out.fresh = true;
    else if (a === '--entries') out.entries = u32(value());
    else if (a === '--cq-entries') out.setup.cqEntries = u32(value());
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
  const { diagnose, formatBytes: fmt, describeHolder } = await import('../diagnose/index.js');
  const report = diagnose({ entries: opts.entries, setup: opts.setup, quick: opts.quick, fresh: opts.fresh });
  if (opts.json) {
    console.log(JSON.stringify(report, null, 2));
    return report.exitCode;
  }
  const bytes = (n: number | null): string => (n === null ? 'unlimited' : n >= 1024 ? `${fmt(n)} (${n} bytes)` : fmt(n));
  const lines: string[] = [report.verdict, ''];
  const env = report.environment;
  const m = report.memlock;
  lines.push(`kernel            ${env.kernel.release}`);
  lines.push(`io_uring_disabled ${env.ioUringDisabled ?? 'n/a (knob absent)'}${env.ioUringGroup !== null ? `, io_uring_group ${env.ioUringGroup}${env.inIoUringGroup ? ' (member)' : ''}` : ''}`);
  lines.push(`seccomp           ${['off', 'strict', `filter (${env.seccomp.filters})`][env.seccomp.mode] ?? env.seccomp.mode}`);
  lines.push(`container         ${env.container.likely ? env.container.hints.join('; ') : 'none detected'}`);
  lines.push(`user              uid ${env.uid}, euid ${env.euid}${env.userNamespace !== null && env.userNamespace !== 4026531837 ? ', in a user namespace' : ''}`);
  lines.push(`capabilities      CAP_SYS_ADMIN ${env.capabilities.sysAdmin ? 'yes' : 'no'}, CAP_IPC_LOCK ${env.capabilities.ipcLock ? 'yes' : 'no'}, CAP_SYS_NICE ${env.capabilities.sysNice ? 'yes' : 'no'}`);
  lines.push(`RLIMIT_MEMLOCK    ${bytes(m.soft)}, hard ${bytes(m.hard)}`);
  lines.push(`  rings charged   ${m.kernelChargesRings === null ? 'unknown' : m.kernelChargesRings ? 'YES, for processes without CAP_IPC_LOCK' : 'no (memory cgroup only)'} — ${m.exempt ? m.kernelEvidence : m.evidence}`);
  lines.push(`  this process    ${m.chargesRings === null ? 'unknown' : m.chargesRings ? 'charged' : 'not charged'}${m.exempt ? ' (holds CAP_IPC_LOCK)' : ''}${m.exempt ? ` — ${m.evidence}` : ''}`);
  if (m.freeBytes !== null) {
    lines.push(`  your user has   ${m.usedBytes !== null ? bytes(m.usedBytes) : `more than ${bytes(Math.max(0, (m.soft ?? 0) - m.freeBytes))}`} charged, ${bytes(m.freeBytes)} free${m.freeExact ? ' (measured)' : ' (at least)'}`);
  }
  if (m.chargesRings !== false && !m.exempt && m.soft !== null) {
    lines.push(`  ring holders    ${m.holders.length ? m.holders.map((h) => describeHolder(h, m.soft ?? undefined)).join('; ') : `none visible in /proc for uid ${env.uid}`}`);
  }
  lines.push(`RLIMIT_NOFILE     ${env.nofile.soft} (hard ${env.nofile.hard}), ${env.openFds ?? '?'} open`);
  if (env.systemFiles) lines.push(`system files      ${env.systemFiles.allocated} of fs.file-max ${env.systemFiles.max} allocated`);
  if (env.memAvailableBytes !== null) lines.push(`memory available  ${fmt(env.memAvailableBytes)}`);
  const s = report.shape;
  lines.push(`ring shape        ${s.entries} entries${s.sqEntries !== null ? ` (SQ ${s.sqEntries}, CQ ${s.cqEntries})` : ''}${s.flags.length ? `, ${s.flags.join('|')}` : ''}: ` +
    `${s.ringBytes === null ? 'invalid' : `${bytes(s.ringBytes)} of ring memory, ${m.chargesRings ? 'all charged to RLIMIT_MEMLOCK' : 'not charged to RLIMIT_MEMLOCK'}`}`);
  lines.push(`setup             ${report.setup.ok ? `OK: SQ ${report.setup.sqEntries}, CQ ${report.setup.cqEntries}` : report.setup.error}`);
  const l = report.largest;
  lines.push(`largest ring      ${l.entries > 0 ? `${l.entries} entries (${fmt(l.ringBytes)})` : `none (${l.error})`}${l.flags.length ? ` with ${l.flags.join('|')}` : ''}, by search: ${l.tries.map((t) => `${t.entries} ${t.result}`).join(', ')}`);
  if (report.flags) {
    const by = (status: string): string => report.flags!.filter((f) => f.status === status).map((f) => f.name.replace('IORING_SETUP_', '')).join(' ');
    lines.push(`setup flags       accepted: ${by('accepted')}`);
    if (by('unsupported')) lines.push(`                  unsupported by this kernel (EINVAL): ${by('unsupported')}`);
    const untested = report.flags.filter((f) => f.status === 'untested');
    if (untested.length) lines.push(`                  not tested, resources short (${[...new Set(untested.map((f) => f.error))].join('/')}): ${by('untested')}`);
    if (by('refused')) lines.push(`                  refused: ${report.flags.filter((f) => f.status === 'refused').map((f) => `${f.name.replace('IORING_SETUP_', '')} (${f.error})`).join(' ')}`);
  }
  if (Array.isArray(report.opcodes)) lines.push(`opcodes           ${report.opcodes.length} supported`);
  else if (report.opcodes) lines.push(`opcodes           not probed (${report.opcodes.error})`);
  if (report.findings.length) {
    lines.push('', 'findings:');
    for (const f of report.findings) {
      lines.push(`  [${f.severity}] ${f.message}`);
      if (f.fixes.length) lines.push(f.fixes.length > 1 ? '      fixes, least privilege first:' : '      fix:');
      f.fixes.forEach((fix, i) => {
        lines.push(`      ${f.fixes.length > 1 ? `${i + 1}. ` : ''}${fix.action}:`);
        lines.push(`           ${fix.command}`);
      });
    }
  }
  console.log(lines.join('\n'));
  return report.exitCode;
}

async function probe(args: string[]): Promise<number> {
  const json = args.includes('--json');
  for (const a of args) if (a !== '--json') throw new UsageError(`unknown option '${a}'`);
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

/** Runs the CLI with these arguments; resolves to the exit status. */
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
      console.error(`uring: ${e.message} (uring help for usage)`);
      return 2;
    }
    throw e;
  }
}
