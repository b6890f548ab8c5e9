/**
 * The environment as it bears on io_uring, read from /proc and the process.
 *
 * Everything is read through an `EnvironmentSource`, so tests can inject the
 * states this machine cannot (or must not, being shared) be put in:
 * io_uring_disabled = 1 or 2, a full system file table, an old kernel.
 * Whether rings are charged to RLIMIT_MEMLOCK is not read here: memlock.ts
 * asks the kernel.
 */
import fs from 'node:fs';
import os from 'node:os';
import { native } from '../ring/native.js';

/** Where the facts come from: the live system, or a test's stand-in. */
export interface EnvironmentSource {
  /** Contents of a file, or null if it cannot be read. */
  readFile(path: string): string | null;
  /** Entries of a directory, or null. */
  readDir(path: string): string[] | null;
  exists(path: string): boolean;
  kernelRelease(): string;
  euid(): number;
  /** Real uid: the kernel's per-user accounting (user->locked_vm) is keyed by it. */
  uid(): number;
  groups(): number[];
  env(name: string): string | undefined;
  /** Target of a symlink, or null. */
  readLink?(path: string): string | null;
  /** getrlimit(2) of 'memlock' or 'nofile', when /proc/self/limits cannot be read (no fds left). */
  rlimit(name: 'memlock' | 'nofile'): Limit | null;
}

export const liveSource: EnvironmentSource = {
  readFile: (p) => {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch {
      return null;
    }
  },
  readDir: (p) => {
    try {
      return fs.readdirSync(p);
    } catch {
      return null;
    }
  },
  exists: (p) => fs.existsSync(p),
  readLink: (p) => {
    try {
      return fs.readlinkSync(p);
    } catch {
      return null;
    }
  },
  kernelRelease: () => os.release(),
  euid: () => process.geteuid?.() ?? -1,
  uid: () => process.getuid?.() ?? -1,
  groups: () => [...new Set([...(process.getgroups?.() ?? []), process.getegid?.() ?? -1])],
  env: (n) => process.env[n],
  rlimit: (name) => {
    const r = native.getrlimit(name === 'memlock' ? native.RLIMIT_MEMLOCK : native.RLIMIT_NOFILE);
    if (typeof r === 'number') return null;
    const v = (x: number): number => (x < 0 ? Infinity : x);
    return { soft: v(r[0]), hard: v(r[1]) };
  },
};

/** A resource limit: soft and hard, in bytes or count; Infinity for unlimited. */
export interface Limit {
  soft: number;
  hard: number;
}

/** Linux capability numbers that matter to io_uring. */
export const CAPS = Object.freeze({ CAP_IPC_LOCK: 14, CAP_SYS_ADMIN: 21, CAP_SYS_NICE: 23 });

/**
 * Inode of the initial user namespace (PROC_USER_INIT_INO). The kernel
 * exempts a ring from RLIMIT_MEMLOCK only for CAP_IPC_LOCK held in this
 * namespace (io_uring_create: ns_capable_noaudit(&init_user_ns, …)), so
 * root in a rootless container is charged like anyone else.
 */
export const INIT_USER_NS_INODE = 4026531837;

export interface Environment {
  kernel: { release: string; major: number; minor: number };
  /** /proc/sys/kernel/io_uring_disabled: 0 allowed, 1 only for CAP_SYS_ADMIN or io_uring_group, 2 disabled; null if the knob does not exist (pre-6.6). */
  ioUringDisabled: 0 | 1 | 2 | null;
  /** /proc/sys/kernel/io_uring_group (-1: none). */
  ioUringGroup: number | null;
  inIoUringGroup: boolean;
  /** Seccomp mode of this process: 0 none, 1 strict, 2 filter. */
  seccomp: { mode: number; filters: number };
  container: { likely: boolean; hints: string[] };
  capabilities: { effective: bigint; ipcLock: boolean; sysAdmin: boolean; sysNice: boolean };
  /** Inode of this process's user namespace; INIT_USER_NS_INODE for the initial one, null if unknown. */
  userNamespace: number | null;
  euid: number;
  /** Real uid (rings and registered buffers are charged to this user). */
  uid: number;
  memlock: Limit;
  nofile: Limit;
  openFds: number | null;
  memAvailableBytes: number | null;
  /** /proc/sys/fs/file-nr: allocated file handles and fs.file-max (ENFILE). */
  systemFiles: { allocated: number; max: number } | null;
  /** /proc/sys/kernel/random/boot_id: what measurements are cached under. */
  bootId: string | null;
  pageSize: number;
}

function parseLimit(limits: string | null, name: string): Limit {
  const line = limits?.split('\n').find((l) => l.startsWith(name));
  if (!line) return { soft: Infinity, hard: Infinity };
  const parts = line.slice(name.length).trim().split(/\s+/);
  const value = (s: string): number => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: value(parts[0]), hard: value(parts[1]) };
}

function statusField(status: string | null, name: string): string | null {
  const m = status?.match(new RegExp(`^${name}:\\s*(.*)$`, 'm'));
  return m ? m[1].trim() : null;
}

/** Reads the environment from a source (the live system by default). */
export function readEnvironment(source: EnvironmentSource = liveSource, pageSize = 4096): Environment {
  const release = source.kernelRelease();
  const [major, minor] = release.split('.').map((x) => parseInt(x, 10));
  const disabledText = source.readFile('/proc/sys/kernel/io_uring_disabled');
  const disabled = disabledText === null ? null : (Number(disabledText.trim()) as 0 | 1 | 2);
  const groupText = source.readFile('/proc/sys/kernel/io_uring_group');
  const ioUringGroup = groupText === null ? null : Number(groupText.trim());
  const status = source.readFile('/proc/self/status');
  const capEff = BigInt(`0x${statusField(status, 'CapEff') ?? '0'}`);
  const has = (cap: number): boolean => (capEff & (1n << BigInt(cap))) !== 0n;
  const limits = source.readFile('/proc/self/limits');
  const hints: string[] = [];
  if (source.exists('/.dockerenv')) hints.push('/.dockerenv exists (Docker)');
  if (source.exists('/run/.containerenv')) hints.push('/run/.containerenv exists (Podman)');
  const containerEnv = source.env('container');
  if (containerEnv) hints.push(`container=${containerEnv} in the environment`);
  const cgroup = source.readFile('/proc/1/cgroup') ?? '';
  if (/docker|kubepods|containerd|lxc|libpod/.test(cgroup)) hints.push('PID 1 runs in a container cgroup');
  if (source.env('KUBERNETES_SERVICE_HOST')) hints.push('KUBERNETES_SERVICE_HOST is set (Kubernetes pod)');
  const meminfo = source.readFile('/proc/meminfo');
  const avail = meminfo?.match(/^MemAvailable:\s+(\d+) kB/m);
  const fds = source.readDir('/proc/self/fd');
  const fileNr = source.readFile('/proc/sys/fs/file-nr')?.trim().split(/\s+/).map(Number);
  const userNs = source.readLink?.('/proc/self/ns/user')?.match(/\[(\d+)\]/);
  const nofile = limits !== null ? parseLimit(limits, 'Max open files') : source.rlimit('nofile') ?? parseLimit(null, '');
  return {
    kernel: { release, major, minor },
    ioUringDisabled: disabled,
    ioUringGroup,
    inIoUringGroup: ioUringGroup !== null && ioUringGroup >= 0 && source.groups().includes(ioUringGroup),
    seccomp: { mode: Number(statusField(status, 'Seccomp') ?? 0), filters: Number(statusField(status, 'Seccomp_filters') ?? 0) },
    container: { likely: hints.length > 0, hints },
    capabilities: { effective: capEff, ipcLock: has(CAPS.CAP_IPC_LOCK), sysAdmin: has(CAPS.CAP_SYS_ADMIN), sysNice: has(CAPS.CAP_SYS_NICE) },
    userNamespace: userNs ? Number(userNs[1]) : null,
    euid: source.euid(),
    uid: source.uid(),
    memlock: limits !== null ? parseLimit(limits, 'Max locked memory') : source.rlimit('memlock') ?? parseLimit(null, ''),
    nofile: nofile,
    // Unreadable /proc/self/fd usually means there is no descriptor left to read it with.
    openFds: fds === null ? (limits === null && Number.isFinite(nofile.soft) ? nofile.soft : null) : Math.max(0, fds.length - 1),
    memAvailableBytes: avail ? Number(avail[1]) * 1024 : null,
    systemFiles: fileNr && fileNr.length >= 3 && fileNr.every(Number.isFinite) ? { allocated: fileNr[0] - fileNr[1], max: fileNr[2] } : null,
    bootId: source.readFile('/proc/sys/kernel/random/boot_id')?.trim() || null,
    pageSize,
  };
}

export { formatBytes } from '../ring/setup-errors.js';

/** True when this process holds CAP_IPC_LOCK in the initial user namespace: the only holder the kernel exempts from RLIMIT_MEMLOCK. */
export function exemptFromMemlock(env: Environment): boolean {
  return env.capabilities.ipcLock && env.userNamespace === INIT_USER_NS_INODE;
}

/** Kernel version as a comparable number (6.18 → 618). */
export function kernelAtLeast(env: Environment, major: number, minor: number): boolean {
  return env.kernel.major > major || (env.kernel.major === major && env.kernel.minor >= minor);
}
