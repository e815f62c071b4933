// A minimal WebSocket client over a TCP socket for the load harness: sends pre-built binary frames (masked with
// the all-zero key, so a frame's payload bytes are sent as they are and can be patched in place) and hands each
// received binary frame's payload to a callback without copying. Loopback load only — not a general client.
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

/** Largest payload of a frame the harness builds (commands are far smaller). */
export const CLIENT_FRAME_PAYLOAD_MAX = 65_535;
/** Largest frame accepted from the server (a bound on the receive buffer). */
const SERVER_FRAME_MAX = 1 << 20;
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** The header of a client binary frame with a zero mask key, for a payload of `length` bytes. */
export function frameHeader(length: number): Uint8Array {
  if (length > CLIENT_FRAME_PAYLOAD_MAX) throw new Error(`frame payload of ${length} bytes is over ${CLIENT_FRAME_PAYLOAD_MAX}`);
  if (length < 126) return Uint8Array.of(0x82, 0x80 | length, 0, 0, 0, 0);
  return Uint8Array.of(0x82, 0x80 | 126, length >>> 8, length & 0xff, 0, 0, 0, 0);
}

/** A whole client frame around `payload`. */
export function clientFrame(payload: Uint8Array): Uint8Array {
  const header = frameHeader(payload.length);
  const out = new Uint8Array(header.length + payload.length);
  out.set(header, 0);
  out.set(payload, header.length);
  return out;
}

export type FrameHandler = (payload: Uint8Array) => void;

export class RawWsClient {
  /** Received bytes of a frame not complete yet (chunks in arrival order), joined once the frame is whole. */
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes the incomplete frame needs in all (header and payload; 0 while its header is not complete). */
  private pendingNeed = 0;
  closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly onFrame: FrameHandler,
    /** Runs after each chunk of received data is handled (a closed loop sends its next commands here). */
    private readonly onChunkDone: () => void,
  ) {
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("close", () => (this.closed = true));
    socket.on("error", () => (this.closed = true));
  }

  /**
   * Opens ws://host:port/path and completes the upgrade. `localAddress`: the source address to connect from (a
   * loopback server sees each load connection as another client address; undefined = the system's choice).
   */
  static open(url: string, onFrame: FrameHandler, onChunkDone: () => void = () => {}, localAddress?: string): Promise<RawWsClient> {
    const u = new URL(url);
    if (u.protocol !== "ws:") throw new Error(`load: only ws:// URLs are supported, got ${url}`);
    const socket = connect({ host: u.hostname, port: Number(u.port || 80), noDelay: true, ...(localAddress === undefined ? {} : { localAddress }) });
    const key = randomBytes(16).toString("base64");
    return new Promise((resolve, reject) => {
      let head = Buffer.alloc(0);
      const timer = setTimeout(() => fail(new Error(`load: no WebSocket upgrade from ${url} within ${HANDSHAKE_TIMEOUT_MS} ms`)), HANDSHAKE_TIMEOUT_MS);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(e);
      };
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        socket.off("error", fail);
        clearTimeout(timer);
        const status = head.subarray(0, head.indexOf("\r\n")).toString();
        if (!/^HTTP\/1\.1 101/.test(status)) return fail(new Error(`load: upgrade refused by ${url}: ${status}`));
        const client = new RawWsClient(socket, onFrame, onChunkDone);
        const rest = head.subarray(end + 4);
        resolve(client);
        if (rest.length > 0) client.receive(rest);
      };
      socket.on("data", onData);
      socket.once("error", fail);
      socket.once("connect", () => {
        socket.write(
          `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
    });
  }

  /** Writes already-framed bytes (one or several client frames back to back). The caller must not reuse `bytes`. */
  write(bytes: Uint8Array): void {
    if (!this.closed) this.socket.write(bytes);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end(Uint8Array.of(0x88, 0x80, 0, 0, 0, 0));
    this.socket.destroySoon();
  }

  private receive(chunk: Buffer): void {
    let buf = chunk;
    if (this.pendingBytes > 0) {
      // A large message (a batch of events) comes in several chunks: joined once, when the frame is whole.
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.pendingNeed) return;
      buf = Buffer.concat(this.pending, this.pendingBytes);
      this.pending.length = 0;
      this.pendingBytes = 0;
      this.pendingNeed = 0;
    }
    let at = 0;
    while (buf.length - at >= 2) {
      const opcode = buf[at]! & 0x0f;
      let length = buf[at + 1]! & 0x7f;
      let header = 2;
      if (length === 126) {
        if (buf.length - at < 4) break;
        length = buf.readUInt16BE(at + 2);
        header = 4;
      } else if (length === 127) {
        if (buf.length - at < 10) break;
        length = Number(buf.readBigUInt64BE(at + 2));
        header = 10;
      }
      if (length > SERVER_FRAME_MAX) {
        this.socket.destroy(new Error(`load: server frame of ${length} bytes`));
        return;
      }
      if (buf.length - at < header + length) {
        this.pendingNeed = header + length;
        break;
      }
      const payload = buf.subarray(at + header, at + header + length);
      at += header + length;
      if (opcode === 2) this.onFrame(payload);
      else if (opcode === 9) this.socket.write(Buffer.concat([Buffer.from([0x8a, 0x80 | payload.length, 0, 0, 0, 0]), payload]));
      else if (opcode === 8) this.close();
    }
    if (at < buf.length) {
      // Copied: the socket may reuse the chunk's memory.
      this.pending.push(Buffer.from(buf.subarray(at)));
      this.pendingBytes = buf.length - at;
    }
    this.onChunkDone();
  }
}
