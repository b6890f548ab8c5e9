/**
 * File descriptors that die with their thread. Node closes its own handles
 * (sockets, FileHandles) when a worker exits or is terminated; descriptors
 * that JavaScript opened through io_uring (IORING_OP_OPENAT, SOCKET, ACCEPT)
 * have no native handle for Node to close, so the shim keeps a per-thread
 * set and its teardown (the environment cleanup hook, after the rings have
 * drained) closes what is still in it.
 *
 * The contract: hold an fd as soon as it exists; release it *before* its
 * close is submitted (or made), never after — once closed, the number may
 * belong to another thread, whose descriptor the teardown must not close.
 */
import { native } from './native.js';

/** Marks `fd` as this thread's: closed by the thread's teardown if it is still open then. */
export function holdFdForThread(fd: number): void {
  native.ownFd(fd, true);
}

/** Ends holdFdForThread(fd); call it before closing fd. */
export function releaseFdOfThread(fd: number): void {
  native.ownFd(fd, false);
}
