// A typed-array column grown to a larger capacity: a new array of the same kind, its first slots copied (the rest
// zero). The stages' columns (the book's order and level slots, matching's account lists) double with it.

/** Any of the typed arrays the stages keep columns in. */
type Column = Float64Array | Int32Array | Uint32Array | Uint8Array | BigInt64Array;

export function grown<T extends Column>(column: T, capacity: number): T {
  const next = new (column.constructor as new (length: number) => T)(capacity);
  next.set(column as never);
  return next;
}
