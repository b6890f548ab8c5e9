/**
 * Where IORING_OP_SEND_ZC pays, on this machine: one loopback TCP connection
 * per size and op, one request in flight at a time (as uring/net sends),
 * `--mib` MiB each (default 256), to a node:net reader in a child process.
 * Prints MiB/s, the sender's CPU per MiB, and how many zero-copy
 * notifications said the kernel copied after all
 * (IORING_NOTIF_USAGE_ZC_COPIED). uring/net's zeroCopyThreshold comes from
 * this table (docs/net.md).
 *
 *   node dist/bench/net/zc-threshold.js [--mib 256]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import nodeNet from 'node:net';
import { IORING_CQE_F_MORE, IORING_CQE_F_NOTIF, IORING_OP_FLAGS, IORING_SEND_ZC_REPORT_USAGE } from '../../src/abi/constants.js';
import { io } from '../../src/driver/index.js';
import { prepSend, prepSendZc } from '../../src/ring/prep.js';
import { MSG_NOSIGNAL } from '../../src/net/abi.js';

const args = process.argv.slice(2);
const mib = Number(args[args.indexOf('--mib') + 1] || 256) || 256;
const total = mib * 1024 * 1024;
const reader = spawn(process.execPath, ['-e', "const s=require('net').createServer(c=>c.resume()).listen(0,'127.0.0.1',()=>console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = Number(String((await once(reader.stdout!, 'data'))[0]));
const d = io().driver;
const rows: Record<string, unknown>[] = [];
for (const zc of [false, true]) {
  for (const size of [4096, 16384, 65536, 262144, 1048576]) {
    const c = nodeNet.connect(port, '127.0.0.1');
    await once(c, 'connect');
    c.pause();
    const fd = (c as unknown as { _handle: { fd: number; readStop(): void } })._handle.fd;
    const buf = Buffer.alloc(size, 7);
    let sent = 0;
    let copied = 0;
    let notifs = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const one = (): void => {
        if (sent >= total) return resolve();
        d.txBegin();
        const sqe = d.txSqe();
        if (zc) prepSendZc(sqe, fd, buf, size, MSG_NOSIGNAL, IORING_SEND_ZC_REPORT_USAGE);
        else prepSend(sqe, fd, buf, size, MSG_NOSIGNAL);
        let res = 0;
        d.txTrack(sqe, (r: number, _t: unknown, flags: number) => {
          if (zc && flags & IORING_CQE_F_MORE) {
            res = r;
            return;
          }
          if (zc && flags & IORING_CQE_F_NOTIF) {
            notifs++;
            if (r & IORING_OP_FLAGS.IORING_NOTIF_USAGE_ZC_COPIED) copied++;
            r = res;
          }
          if (r < 0) return reject(new Error(`send: ${r}`));
          sent += r;
          one();
        }, null, buf);
        d.txCommit();
      };
      one();
    });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    rows.push({ op: zc ? 'SEND_ZC' : 'SEND', size, 'MiB/s': Math.round(mib / seconds), 'CPU µs/MiB': Math.round((cpu.user + cpu.system) / mib), 'copied notifications': zc ? `${copied}/${notifs}` : '-' });
    c.destroy();
  }
}
console.table(rows);
reader.kill();
process.exit(0);
