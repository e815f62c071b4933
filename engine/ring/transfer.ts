// Handing a ring to another thread at setup: the SAB travels in workerData or a postMessage, never records.

import { RingBuffer, type RingHandle } from "./ring-buffer.ts";

/** Anything with postMessage: a Worker, a MessagePort, or `parentPort` inside a worker. */
export interface MessageTarget {
  postMessage(message: unknown): void;
}

export function isRingHandle(value: unknown): value is RingHandle {
  if (typeof value !== "object" || value === null) return false;
  const v = value as { kind?: unknown; name?: unknown; sab?: unknown };
  return v.kind === "crossbook.ring" && typeof v.name === "string" && v.sab instanceof SharedArrayBuffer;
}

/** Posts `ring` under `name`; the receiver turns the message back into a ring with `receiveRing`. Setup only. */
export function postRing(target: MessageTarget, ring: RingBuffer, name: string): void {
  target.postMessage(ring.handle(name));
}

/** The ring carried by a message from `postRing` (or a handle in workerData), or null for any other message. */
export function receiveRing(message: unknown): { readonly name: string; readonly ring: RingBuffer } | null {
  if (!isRingHandle(message)) return null;
  return { name: message.name, ring: RingBuffer.attach(message) };
}
