/** The differential scenario shared by the facade tests (and run in children by them). */
import fs from 'node:fs';
import type fsp from 'node:fs/promises';
import path from 'node:path';

type Api = typeof fsp;

/** Runs one step and reduces its outcome to comparable data. */
async function outcome(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    const v = await fn();
    if (v instanceof fs.Stats) return { stats: pickStats(v) };
    if (Buffer.isBuffer(v)) return { buffer: v.toString('hex') };
    if (v && typeof v === 'object' && 'bytesRead' in v) return { bytesRead: (v as { bytesRead: number }).bytesRead };
    if (v && typeof v === 'object' && 'bytesWritten' in v) return { bytesWritten: (v as { bytesWritten: number }).bytesWritten };
    return { value: v };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { error: err.code, syscall: err.syscall, errno: err.errno };
  }
}

export function pickStats(s: fs.Stats): Record<string, unknown> {
  return {
    size: s.size, mode: s.mode, nlink: s.nlink, uid: s.uid, gid: s.gid, ino: s.ino, dev: s.dev, rdev: s.rdev,
    blksize: s.blksize, blocks: s.blocks, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, birthtimeMs: s.birthtimeMs,
    isFile: s.isFile(), isDirectory: s.isDirectory(), isSymbolicLink: s.isSymbolicLink(),
  };
}

/** The scenario: relative paths under `root`; the same for both APIs. */
export async function scenario(api: Api, root: string): Promise<unknown[]> {
  const p = (x: string): string => path.join(root, x);
  const out: unknown[] = [];
  const step = async (fn: () => Promise<unknown>): Promise<void> => { out.push(await outcome(fn)); };
  await step(() => api.mkdir(p('d')));
  await step(() => api.mkdir(p('d')));
  await step(() => api.mkdir(p('missing/child')));
  await step(() => api.writeFile(p('d/a.txt'), 'hello world'));
  await step(() => api.appendFile(p('d/a.txt'), ' again'));
  await step(() => api.readFile(p('d/a.txt')));
  await step(() => api.readFile(p('d/a.txt'), 'utf8'));
  await step(() => api.readFile(p('d')));
  await step(() => api.readFile(p('nope')));
  await step(() => api.writeFile(p('d/a.txt/x'), 'x'));
  await step(() => api.stat(p('d/a.txt')));
  await step(() => api.stat(p('d')));
  await step(() => api.stat(p('nope')));
  await step(() => api.symlink('a.txt', p('d/link')));
  await step(() => api.symlink('a.txt', p('d/link')));
  await step(() => api.lstat(p('d/link')));
  await step(() => api.stat(p('d/link')));
  await step(() => api.link(p('d/a.txt'), p('d/hard')));
  await step(() => api.stat(p('d/hard')));
  await step(() => api.rename(p('d/hard'), p('d/moved')));
  await step(() => api.rename(p('d/hard'), p('d/moved2')));
  await step(() => api.truncate(p('d/moved'), 3));
  await step(() => api.readFile(p('d/moved'), 'utf8'));
  await step(() => api.unlink(p('d/moved')));
  await step(() => api.unlink(p('d/moved')));
  await step(() => api.rmdir(p('d')));
  await step(() => api.rm(p('d/link')));
  await step(() => api.rm(p('d/none'), { force: true }));
  await step(() => api.rm(p('d/none')));
  await step(() => api.unlink(p('d')));
  // FileHandle
  const fh = await api.open(p('d/fh.bin'), 'w+');
  await step(() => fh.write(Buffer.from('0123456789')));
  await step(() => fh.write('abc', 20));
  await step(() => fh.read(Buffer.alloc(4), 0, 4, 2));
  await step(() => fh.read({ buffer: Buffer.alloc(8), position: 0 }));
  await step(() => fh.stat());
  await step(() => fh.truncate(5));
  await step(() => fh.sync());
  await step(() => fh.datasync());
  await step(() => fh.readv([Buffer.alloc(2), Buffer.alloc(2)], 0));
  await step(() => fh.writev([Buffer.from('xy'), Buffer.from('z')], 1));
  await step(() => fh.readFile('utf8'));
  await step(() => fh.close());
  await step(() => fh.read(Buffer.alloc(1), 0, 1, 0));
  await step(() => api.readFile(p('d/fh.bin'), 'latin1'));
  await step(() => api.open(p('d/fh.bin'), 'wx'));
  await step(() => api.open(p('d/fh.bin/sub'), 'r'));
  await step(() => api.access(p('d/fh.bin')));
  await step(() => api.copyFile(p('d/fh.bin'), p('d/copy.bin')));
  await step(() => api.readdir(p('d')).then((x) => x.sort()));
  return out;
}


/** inode, dev and times differ between twin trees: compare them by type. */
export function normalise(xs: unknown[]): unknown {
  return JSON.parse(JSON.stringify(xs, (k, v) => (['ino', 'mtimeMs', 'ctimeMs', 'birthtimeMs', 'blocks'].includes(k) ? typeof v : v)));
}

/** The scenario's outcome, normalised, for comparing twin runs in a child. */
export async function scenarioSource(api: Api, root: string): Promise<unknown> {
  return normalise(await scenario(api, root));
}
