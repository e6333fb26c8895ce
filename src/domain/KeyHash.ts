/** FNV-1a, 32 bits, over a key's bytes: deterministic and cheap. */
export const fnv1a32 = (key: Uint8Array): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key[i]!, 0x01000193)
  return hash >>> 0
}

/**
 * A 53-bit hash of a key's bytes: FNV-1a's 32 bits and 21 of a second
 * multiplicative hash. Equal keys hash alike.
 */
export const keyHash = (key: Uint8Array): number => {
  let b = 0x01000193 ^ key.length
  for (let i = 0; i < key.length; i++) b = Math.imul(b ^ key[i]!, 0x5bd1e995)
  return fnv1a32(key) * 0x200000 + ((b >>> 0) & 0x1fffff)
}
