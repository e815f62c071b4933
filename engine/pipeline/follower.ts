// A follower: a worker that takes a copy of the engine's state (a snapshot payload) and answers one question about
// it off the engine's threads — the header hash of an X7 snapshot (snapshot-hash.ts), a Q7 what-if
// (what-if-follower.ts). It posts { type: "result", value } or { type: "fatal", message } once, then is terminated.
import { Worker } from "node:worker_threads";
import { workerExecArgv, workerUrl } from "./worker-bundle.ts";

export type FollowerMessage<T> = { type: "result"; value: T } | { type: "fatal"; message: string };

/** Starts the follower whose entry is `data.entry` with `data` as its workerData; its one answer. */
export function askFollower<T>(data: { readonly entry: string }, what: string): Promise<T> {
  const url = workerUrl(data.entry);
  const worker = new Worker(url, { workerData: data, execArgv: workerExecArgv(url) });
  return new Promise<T>((resolve, reject) => {
    let answered = false;
    worker.on("message", (m: FollowerMessage<T>) => {
      answered = true;
      if (m.type === "result") resolve(m.value);
      else reject(new Error(m.message));
      void worker.terminate();
    });
    worker.on("error", (e) => {
      answered = true;
      reject(e);
    });
    worker.on("exit", (code) => {
      if (!answered) reject(new Error(`${what} worker exited (code ${code}) without an answer`));
    });
  });
}
