// `crossbook load`: the load harness of bench/load against a spawned server or --url (bin/cli.ts dispatches here).
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { fail, intOption } from "./cli-args.ts";

const LOAD_USAGE =
  "usage: crossbook load [--url ws://HOST:PORT --operator-key FILE] [--connections N] [--inflight N] [--rates R,R,...] [--seconds S] [--first-user U] [--no-closed] [--no-echo] [--svg FILE] [--server-node-arg ARG]... [--server-arg ARG]... [--server-pid PID] [--pacer thread|timer] [--frames batch|single] [--echo-only]";

function loadOptionsFrom(argv: string[]): { values: Record<string, string | boolean | string[] | undefined> } {
  try {
    return parseArgs({
      args: argv,
      options: {
        url: { type: "string" },
        "operator-key": { type: "string" },
        connections: { type: "string" },
        inflight: { type: "string" },
        rates: { type: "string" },
        seconds: { type: "string" },
        "first-user": { type: "string" },
        "no-echo": { type: "boolean", default: false },
        "echo-only": { type: "boolean", default: false },
        "no-closed": { type: "boolean", default: false },
        svg: { type: "string" },
        "server-node-arg": { type: "string", multiple: true },
        "server-arg": { type: "string", multiple: true },
        "server-pid": { type: "string" },
        pacer: { type: "string" },
        frames: { type: "string" },
        help: { type: "boolean", default: false },
      },
    });
  } catch (e) {
    fail(`load: ${(e as Error).message} (crossbook load --help)`);
  }
}

/** `crossbook load`: the load harness of bench/load against a spawned server or --url. */
export async function loadCommand(argv: string[]): Promise<void> {
  const { values } = loadOptionsFrom(argv);
  if (values.help === true) {
    process.stdout.write(`${LOAD_USAGE}\n`);
    return;
  }
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const url = str("url");
  if (url !== undefined && !/^ws:\/\/[^/]+/.test(url)) fail(`load: --url must be ws://HOST:PORT, got "${url}" (crossbook load --help)`);
  if (url !== undefined && str("operator-key") === undefined) fail(`load: --url needs --operator-key FILE (to fund the load accounts) (crossbook load --help)`);
  const rateTexts = (str("rates") ?? "10000,50000,100000").split(",");
  const rates = rateTexts.map((t) => intOption(t, "rates", 0, 1, 1_000_000));
  const pacer = str("pacer") ?? "thread";
  if (pacer !== "thread" && pacer !== "timer") fail(`load: --pacer must be thread or timer, got "${pacer}" (crossbook load --help)`);
  const frames = str("frames") ?? "batch";
  if (frames !== "batch" && frames !== "single") fail(`load: --frames must be batch or single, got "${frames}" (crossbook load --help)`);
  const seconds = intOption(str("seconds"), "seconds", 3, 1, 60);
  const { DEFAULT_LOAD_OPTIONS, describe, latencySvg, runLoad } = await import("../bench/load/load.ts");
  const report = await runLoad({
    ...DEFAULT_LOAD_OPTIONS,
    ...(url !== undefined ? { url, operatorKeyFile: str("operator-key")! } : {}),
    connections: intOption(str("connections"), "connections", 16, 1, 1024),
    inflight: intOption(str("inflight"), "inflight", 256, 1, 32_768),
    closed: values["no-closed"] !== true,
    rates,
    phaseSeconds: seconds,
    firstUser: intOption(str("first-user"), "first-user", 1, 1, 100_000_000),
    echo: values["no-echo"] !== true,
    crossbook: values["echo-only"] !== true,
    serverNodeArgs: (values["server-node-arg"] as string[] | undefined) ?? [],
    serverArgs: (values["server-arg"] as string[] | undefined) ?? [],
    pacer,
    frames,
    ...(str("server-pid") !== undefined ? { serverPid: intOption(str("server-pid"), "server-pid", 0, 1, 4_194_304) } : {}),
  }).catch((e: unknown) => fail((e as Error).message));
  for (const r of report.crossbook) process.stdout.write(`crossbook ${describe(r)}\n`);
  for (const r of report.echo) process.stdout.write(`uWS echo  ${describe(r)}\n`);
  const svg = str("svg");
  if (svg !== undefined) {
    writeFileSync(svg, latencySvg(report, `crossbook${url !== undefined ? ` at ${url}` : ""} vs uWS echo: ack latency`));
    process.stdout.write(`wrote ${svg}\n`);
  }
}
