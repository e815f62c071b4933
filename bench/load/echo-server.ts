// The floor the load harness compares crossbook with: a bare uWebSockets.js server that sends every binary frame
// straight back. Run as its own process (`node --import tsx bench/load/echo-server.ts`); prints the port it listens
// on ("echo listening on ws://127.0.0.1:PORT") and stops on SIGTERM/SIGINT.
import { loadUws } from "../../gateway/server.ts";

const uWS = loadUws(false);
const app = uWS.App();
app.ws("/*", {
  compression: 0,
  maxPayloadLength: 64 * 1024,
  idleTimeout: 120,
  message: (ws, message, isBinary) => {
    ws.send(message, isBinary);
  },
});
app.listen("127.0.0.1", 0, (socket) => {
  if (!socket) {
    process.stderr.write("echo: cannot listen\n");
    process.exit(1);
  }
  process.stdout.write(`echo listening on ws://127.0.0.1:${uWS.us_socket_local_port(socket)}\n`);
});
const stop = (): void => process.exit(0);
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
