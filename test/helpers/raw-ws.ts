// A raw WebSocket client for tests of clients that misbehave: it completes the handshake and then never reads.
import { connect, type Socket } from "node:net";
import type { KeyObject } from "node:crypto";
import { signLogin } from "../../gateway/auth/keys.ts";
import { encodeCommand } from "../../gateway/client/codec.ts";

/**
 * Sends queries with large answers (101-point rate curves, ~8 KB each) in bursts of 50 until `done()` or `max` were
 * sent, then gives the server up to `settleMs` to work through what is queued until `done()`; returns how many were
 * sent. Only as much load as it takes: how much the loopback socket buffers absorb before the server holds any
 * varies with the machine's load (2,650–3,150 frames at load ~10), so `max` leaves room, and a server still busy
 * with the queue when the flood ends is waited for rather than read from (reading would drain what it holds).
 */
export async function floodUntil(hog: { send(frame: Uint8Array): void }, done: () => boolean, max = 20_000, settleMs = 10_000): Promise<number> {
  let sent = 0;
  while (sent < max && !done()) {
    for (let i = 0; i < 50; i++) hog.send(encodeCommand(BigInt(++sent), { type: "QueryRateCurve", asset: 0, points: 101 }));
    await new Promise((r) => setTimeout(r, 25));
  }
  const deadline = Date.now() + settleMs;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return sent;
}

/**
 * A WebSocket client that completes the handshake and then never reads (its socket is paused): what it is sent
 * piles up in the kernel and then in the server. resume() reads everything and resolves with the close frame.
 */
export async function nonReadingClient(port: number, path: string, key?: KeyObject): Promise<{ socket: Socket; send(frame: Uint8Array): void; resume(): Promise<{ code: number; reason: string } | null> }> {
  const socket = connect(port, "127.0.0.1");
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    socket.once("data", (d: Buffer) => {
      const end = d.indexOf("\r\n\r\n");
      if (!d.subarray(0, end).toString().startsWith("HTTP/1.1 101")) reject(new Error(`no upgrade: ${d.toString()}`));
      chunks.push(d.subarray(end + 4));
      socket.pause();
      resolve();
    });
  });
  const client = {
    socket,
    send(frame: Uint8Array): void {
      // Client frames are masked (RFC 6455 §5.3); a zero mask keeps the payload as it is.
      const header = frame.length < 126 ? Buffer.from([0x82, 0x80 | frame.length, 0, 0, 0, 0]) : Buffer.from([0x82, 0x80 | 126, frame.length >> 8, frame.length & 255, 0, 0, 0, 0]);
      socket.write(Buffer.concat([header, frame]));
    },
    resume(): Promise<{ code: number; reason: string } | null> {
      return new Promise((resolve) => {
        socket.on("data", (d: Buffer) => chunks.push(d));
        socket.once("close", () => resolve(closeFrameOf(Buffer.concat(chunks))));
        socket.resume();
      });
    },
  };
  if (key !== undefined) {
    // X6: log in (client_seq 0, below the flood's) so that the ?watch= of the path applies; the answer is not read.
    client.send(encodeCommand(0n, { type: "Login", ...signLogin(key) }));
    await new Promise((r) => setTimeout(r, 300));
  }
  return client;
}

/** The close frame (opcode 8) in a stream of unmasked server frames, or null when there is none. */
export function closeFrameOf(stream: Buffer): { code: number; reason: string } | null {
  let at = 0;
  while (at + 2 <= stream.length) {
    const opcode = stream[at]! & 0x0f;
    let length = stream[at + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      length = stream.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      length = Number(stream.readBigUInt64BE(at + 2));
      header = 10;
    }
    const payload = stream.subarray(at + header, at + header + length);
    if (opcode === 8) return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString() };
    at += header + length;
  }
  return null;
}
