// The journal thread's entry (gateway/journal-thread.ts), run from the workers' bundle: opens the segment directory,
// says "ready", then writes the groups the gateway queues until it closes. A failed write is reported ("fatal") and
// ends the thread; the gateway then refuses every group still waiting (and stops the exchange, as for any journal
// failure).
import { parentPort, workerData } from "node:worker_threads";
import { runJournalThread, type JournalThreadData } from "./journal-thread.ts";

try {
  runJournalThread(workerData as JournalThreadData, () => parentPort!.postMessage({ type: "ready" }));
} catch (e) {
  parentPort!.postMessage({ type: "fatal", message: (e as Error).stack ?? String(e) });
}
