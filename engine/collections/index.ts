// Public face of the shared collections: small allocation-free structures the stages share (DESIGN: collections/).
//
// - IdMap (id-map.ts): open-addressing hash map from a non-negative integer id (< 2^53: order ids, accounts) to an
//   int32 slot, in typed arrays; get/set/delete never allocate except when the table doubles. Matching indexes its
//   orders and accounts with it, risk its open-order holds.
export { IdMap } from "./id-map.ts";
// - ClientIdIndex (client-id-index.ts): open-addressing hash map from (account, market, u64 clientId) to an order id, in
//   typed arrays (the clientId's halves as numbers): no bigint key per order. Risk indexes its holds' clientIds with it.
export { ClientIdIndex } from "./client-id-index.ts";
// - grown (grown.ts): a typed-array column at a larger capacity, its slots copied: the book's and account lists' columns.
export { grown } from "./grown.ts";
// - Sha256 / createHash("sha256") (sha256.ts): SHA-256 of UTF-8 text in plain TypeScript, byte-identical to
//   node:crypto's, for the stages' state digests (domain code imports no node builtin).
export { createHash, Sha256 } from "./sha256.ts";
// - SortedEdges (sorted-edges.ts): a sorted multiset of (bigint edge, integer id) in chunks, for Q1's safe-band index:
//   k changes cost O(k × (log n + chunk)), a mark move visits the prefix below or the suffix above a value.
export { SortedEdges } from "./sorted-edges.ts";
// - zeroBigints / zeroFlags (zero-arrays.ts): an account's small zero arrays — copy-on-write bigint literals (an array
//   that stays zero shares the literal's store) and plain flag arrays (a tiny typed array costs a view and a buffer);
//   sharedZeroBigints: one frozen zero array per length, an account's slot array until its first write.
export { isSharedZeroBigints, sharedZeroBigints, zeroBigints, zeroFlags } from "./zero-arrays.ts";
