// The HTTP side of the server: GET /health and /config for anyone, the signed (X6) read routes, 404 for the rest.
import { formatDecimal } from "../engine/fixed/index.ts";
import { PRICE_DECIMALS, RejectCode, rejectCodeName, type ExchangeConfig } from "../engine/model/index.ts";
import { GatewayAuth } from "./auth/gateway-auth.ts";
import { formatPermissions } from "./auth/keys.ts";
import type { Identity, RequestHeaders } from "./auth/login.ts";
import type { ServerCore } from "./server-core.ts";
import type { UwsModule } from "./server.ts";

type UwsApp = ReturnType<UwsModule["App"]>;
type RouteAnswer = [status: number, body: unknown];
const HTTP_STATUS: Record<number, string> = {
  200: "200 OK",
  400: "400 Bad Request",
  401: "401 Unauthorized",
  403: "403 Forbidden",
  429: "429 Too Many Requests",
  503: "503 Service Unavailable",
};

/** The public description of the exchange served at GET /config (symbols, ids, scales, filters). */
export function publicConfig(config: ExchangeConfig): unknown {
  return {
    assets: config.assets.map((a) => ({
      id: a.id,
      symbol: a.symbol,
      decimals: a.decimals,
      initialMark: formatDecimal(a.initialMark, PRICE_DECIMALS),
      // P2: what a price feeder needs to address the oracle (OracleQuote names a source by its index here).
      oracle: a.oracle === null ? null : { sources: a.oracle.sources.map((s) => s.name), staleAfterMs: a.oracle.staleAfterMs },
    })),
    markets: config.markets.map((m) => {
      const base = config.assets[m.baseAsset]!;
      const quote = config.assets[m.quoteAsset]!;
      return {
        id: m.id,
        symbol: m.symbol,
        kind: m.kind === 0 ? "spot" : "perpetual",
        base: base.symbol,
        quote: quote.symbol,
        tickSize: formatDecimal(m.tickSize, PRICE_DECIMALS),
        stepSize: formatDecimal(m.stepSize, base.decimals),
        minQuantity: formatDecimal(m.minQuantity, base.decimals),
        maxQuantity: formatDecimal(m.maxQuantity, base.decimals),
        minNotional: formatDecimal(m.minNotional, quote.decimals),
      };
    }),
  };
}

/**
 * A GET route that answers only a signed request (X6): the signature headers and the named query parameters are read
 * before the handler returns (uWS), verified on the pool, then `handle` answers for the verified identity.
 */
function signedRoute(
  app: UwsApp,
  core: ServerCore,
  path: string,
  instruction: string,
  paramNames: readonly string[],
  handle: (who: Identity, params: Readonly<Record<string, string>>) => Promise<RouteAnswer>,
): void {
  const auth = core.auth;
  app.get(path, (res, req) => {
    // A request takes a token of its address's HTTP bucket (the address's command rate) before its signature is
    // verified (on the pool the logins use): over it, 429 and no verification. (Not the key's bucket: the key is not
    // proven yet, and a request naming someone else's key must not spend that key's rate.)
    const address = Buffer.from(res.getRemoteAddressAsText()).toString();
    if (!core.httpAddressRates.take(address, performance.now())) {
      res.writeStatus(HTTP_STATUS[429]!).writeHeader("content-type", "application/json");
      res.end(JSON.stringify({ code: "RateLimited", message: "rate limit: too many signed requests per second from this address" }));
      return;
    }
    const headers: RequestHeaders = {
      apiKey: req.getHeader("x-api-key"),
      signature: req.getHeader("x-signature"),
      timestamp: req.getHeader("x-timestamp"),
      window: req.getHeader("x-window"),
    };
    const params: Record<string, string> = {};
    for (const name of paramNames) {
      const v = req.getQuery(name);
      if (v !== undefined && v !== "") params[name] = v;
    }
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void auth
      .request(headers, instruction, params)
      .then(async (outcome): Promise<RouteAnswer> => {
        if (outcome.identity === null) return [outcome.code === RejectCode.Overloaded ? 503 : 401, { code: rejectCodeName[outcome.code], message: outcome.message }];
        return handle(outcome.identity, params);
      })
      .catch((e: unknown): RouteAnswer => [503, { code: "Overloaded", message: `cannot answer now: ${(e as Error).message}` }])
      .then(([status, body]) => {
        if (aborted) return;
        res.cork(() => {
          res.writeStatus(HTTP_STATUS[status] ?? `${status}`).writeHeader("content-type", "application/json").end(JSON.stringify(body));
        });
      });
  });
}

/** Registers every HTTP route on `app`; each answers from the server's live state (503 while recovering). */
export function serveHttpRoutes(app: UwsApp, core: ServerCore): void {
  const { status, config } = core;
  app.get("/health", (res) => {
    // 503 until the engine is recovered, so a load balancer sends no client to a recovering exchange.
    if (!status.ready) res.writeStatus("503 Service Unavailable");
    res.writeHeader("content-type", "application/json").end(JSON.stringify(status.health()));
  });
  app.get("/config", (res) => {
    res.writeHeader("content-type", "application/json").end(JSON.stringify(publicConfig(config)));
  });
  // X6: every route but /health and /config answers only a signed request (Backpack's X-API-Key, X-Signature,
  // X-Timestamp, X-Window over instruction=<name>&<query parameters sorted>&timestamp=T&window=W).
  signedRoute(app, core, "/balances", "balanceQuery", ["account"], async (who, params) => answerBalances(core, who, params));
  signedRoute(app, core, "/state-hash", "stateHashQuery", [], async (who) => answerStateHash(core, who));
  signedRoute(app, core, "/keys", "apiKeyQuery", ["user"], async (who, params) => answerKeys(core, who, params));
  app.any("/*", (res) => {
    res.writeStatus("404 Not Found").end("not found: use a WebSocket, GET /health, GET /config\n");
  });
}

/** GET /balances?account=N: the gateway's balance view of one account the key may read. */
function answerBalances(core: ServerCore, who: Identity, params: Readonly<Record<string, string>>): RouteAnswer {
  const account = Number(params.account);
  if (!core.status.ready) return [503, core.status.health()];
  if (!Number.isInteger(account) || account <= 0 || account > 0xffffffff) return [400, { code: "InvalidAccount", message: "usage: GET /balances?account=N" }];
  if (!GatewayAuth.canRead(who, account)) return [403, { code: "Forbidden", message: `account ${account} is not readable with this key` }];
  return [200, core.balances.describe(account, core.config)];
}

/** GET /state-hash (operator): the engine's state hash once everything journaled is processed. */
async function answerStateHash(core: ServerCore, who: Identity): Promise<RouteAnswer> {
  if (!core.status.ready) return [503, core.status.health()];
  if (!who.operator) return [403, { code: "Unauthorized", message: "operator key required" }];
  await core.seq.drain();
  return [200, { hash: await core.pipeline.stateHash(), lastSeq: core.seq.lastSeq }];
}

/** GET /keys?user=N (operator): a user's API keys and their permissions. */
function answerKeys(core: ServerCore, who: Identity, params: Readonly<Record<string, string>>): RouteAnswer {
  const user = Number(params.user);
  if (!who.operator) return [403, { code: "Unauthorized", message: "operator key required" }];
  if (!Number.isInteger(user) || user <= 0) return [400, { code: "InvalidAccount", message: "usage: GET /keys?user=N" }];
  return [200, { user, keys: core.auth.registry.list(user).map((k) => ({ apiKey: k.apiKey, permissions: formatPermissions(k.permissions) })) }];
}
