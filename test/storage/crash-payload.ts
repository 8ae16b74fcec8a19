/** 128 bytes that only (index, term) produce: a torn or stale entry cannot pass for it. */
export function payloadFor(index: number, term: number): Uint8Array {
  const stamp = `${index}:${term}:`;
  return new TextEncoder().encode(stamp.repeat(Math.ceil(128 / stamp.length)).slice(0, 128));
}
