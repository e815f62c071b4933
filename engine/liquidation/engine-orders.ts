// D3 (engine/pipeline/engine.ts): the ids of engine-originated orders. Each risk shard creates at most
// ENGINE_ORDERS_PER_BATCH_MAX engine commands at phase 0 of batch B; command i gets
// orderId = 2^52 + (B × riskShards + shard) × ENGINE_ORDERS_PER_BATCH_MAX + i — no counter to snapshot, disjoint from
// the journaled ids (= seq < 2^52), the same on every replay of the journal. Below 2^53 for B < 2^44 / riskShards.

/** Engine commands (cancels and IOC steps) one risk shard creates at one batch's phase 0; the rest wait a batch. */
export const ENGINE_ORDERS_PER_BATCH_MAX = 256;
/** The first engine order id: 2^52. Journaled orders have id = seq < 2^52. */
export const ENGINE_ORDER_ID_BASE = 2 ** 52;

/** D3: the id of engine command `i` of risk shard `shard` (of `riskShards`) at batch `batch`. */
export function engineOrderId(batch: number, riskShards: number, shard: number, i: number): number {
  return ENGINE_ORDER_ID_BASE + (batch * riskShards + shard) * ENGINE_ORDERS_PER_BATCH_MAX + i;
}

/** Is `orderId` an engine order's (D3)? */
export function isEngineOrderId(orderId: number): boolean {
  return orderId >= ENGINE_ORDER_ID_BASE;
}

/**
 * The first of `count` liquidating accounts (in id order) that batch `batch` serves when more than `perBatch` wait:
 * the batches take turns through the list, perBatch at a time, so no account waits more than ceil(count / perBatch)
 * batches for its step — derived from the batch number alone, no cursor to snapshot.
 */
export function firstServedIndex(batch: number, count: number, perBatch: number): number {
  if (count <= perBatch) return 0;
  const turns = Math.trunc((count + perBatch - 1) / perBatch); // ceil for positive integers
  return (batch % turns) * perBatch;
}
