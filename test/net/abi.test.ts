/**
 * The socket constants and struct sizes of src/net/abi.ts against the C
 * headers of this machine (<sys/socket.h>, <netinet/in.h>, <netinet/tcp.h>,
 * <sys/un.h>, <linux/io_uring.h>), compiled and printed by cc. Skipped with
 * the reason when there is no C compiler or the headers lack a name.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as abi from '../../src/net/abi.js';
import { hasCommand, tempDir } from '../helpers.js';

const names: Record<string, string> = {
  AF_UNIX: 'AF_UNIX', AF_INET: 'AF_INET', AF_INET6: 'AF_INET6', SOCK_STREAM: 'SOCK_STREAM', SOCK_NONBLOCK: 'SOCK_NONBLOCK',
  SOCK_CLOEXEC: 'SOCK_CLOEXEC', SOL_SOCKET: 'SOL_SOCKET', SO_REUSEADDR: 'SO_REUSEADDR', SO_ERROR: 'SO_ERROR', SO_KEEPALIVE: 'SO_KEEPALIVE',
  SO_LINGER: 'SO_LINGER', SO_REUSEPORT: 'SO_REUSEPORT', SO_RCVBUF: 'SO_RCVBUF', SO_SNDBUF: 'SO_SNDBUF', IPPROTO_TCP: 'IPPROTO_TCP',
  TCP_NODELAY: 'TCP_NODELAY', TCP_KEEPIDLE: 'TCP_KEEPIDLE', TCP_KEEPINTVL: 'TCP_KEEPINTVL', TCP_KEEPCNT: 'TCP_KEEPCNT',
  IPPROTO_IPV6: 'IPPROTO_IPV6', IPV6_V6ONLY: 'IPV6_V6ONLY', SHUT_WR: 'SHUT_WR', SHUT_RDWR: 'SHUT_RDWR', MSG_NOSIGNAL: 'MSG_NOSIGNAL',
  SOCKADDR_IN_SIZE: 'sizeof(struct sockaddr_in)', SOCKADDR_IN6_SIZE: 'sizeof(struct sockaddr_in6)', SOCKADDR_UN_SIZE: 'sizeof(struct sockaddr_un)',
  UNIX_PATH_MAX: 'sizeof(((struct sockaddr_un *)0)->sun_path)', SOCKADDR_STORAGE_SIZE: 'sizeof(struct sockaddr_storage)', LINGER_SIZE: 'sizeof(struct linger)',
};
/** Only in newer <linux/io_uring.h> (6.7+, TX_TIMESTAMP 6.17, GETSOCKNAME 6.19): each compared where the installed header has it. */
const optional = ['SOCKET_URING_OP_SIOCINQ', 'SOCKET_URING_OP_SIOCOUTQ', 'SOCKET_URING_OP_GETSOCKOPT', 'SOCKET_URING_OP_SETSOCKOPT', 'SOCKET_URING_OP_TX_TIMESTAMP', 'SOCKET_URING_OP_GETSOCKNAME'];

function compile(exprs: Record<string, string>): Record<string, number> | string {
  const dir = tempDir('uring-net-abi-');
  const src = path.join(dir, 'abi.c');
  const lines = Object.entries(exprs).map(([k, e]) => `  printf("%s %lld\\n", "${k}", (long long)(${e}));`);
  fs.writeFileSync(src, `#define _GNU_SOURCE\n#include <stdio.h>\n#include <sys/socket.h>\n#include <netinet/in.h>\n#include <netinet/tcp.h>\n#include <sys/un.h>\n#include <linux/io_uring.h>\nint main(void) {\n${lines.join('\n')}\n  return 0;\n}\n`);
  const exe = path.join(dir, 'abi');
  const cc = spawnSync('cc', ['-o', exe, src], { encoding: 'utf8' });
  if (cc.status !== 0) return cc.stderr;
  const out = spawnSync(exe, [], { encoding: 'utf8' }).stdout;
  return Object.fromEntries(out.trim().split('\n').map((l) => [l.split(' ')[0], Number(l.split(' ')[1])]));
}

const cc = hasCommand('cc');
test('socket constants and sizes match the C headers', { skip: !cc && 'no C compiler (cc)' }, () => {
  const got = compile(names);
  assert.equal(typeof got, 'object', `the probe did not compile: ${got}`);
  for (const k of Object.keys(names)) assert.equal((abi as Record<string, number>)[k], (got as Record<string, number>)[k], k);
});

test('SOCKET_URING_OP_* match <linux/io_uring.h>, each where the installed header has it', { skip: !cc && 'no C compiler (cc)' }, () => {
  const missing: string[] = [];
  for (const k of optional) {
    const got = compile({ [k]: k });
    if (typeof got === 'string') missing.push(k);
    else assert.equal((abi as Record<string, number>)[k], got[k], k);
  }
  if (missing.length) console.log(`# not in this machine's <linux/io_uring.h> (older than the kernel), not compared: ${missing.join(', ')}`);
});
