/**
 * A token bucket, as pure arithmetic on a clock's milliseconds: `ratePerSecond`
 * tokens flow in, at most `burst` are kept, a call takes one.
 *
 * A call that finds no token reserves the next one anyway (the count goes
 * below zero) and is told how long to wait for it: callers queue in the order
 * they asked, each sleeping exactly until its token exists, none polling.
 */

export interface TokenBucketOptions {
  readonly ratePerSecond: number
  readonly burst: number
}

export interface TokenBucket {
  /** Tokens at `at`; below zero, tokens already promised to waiting calls. */
  readonly tokens: number
  readonly at: number
}

/** A full bucket at `now`. */
export const full = (options: TokenBucketOptions, now: number): TokenBucket => ({ tokens: options.burst, at: now })

/** The tokens at `now`: what was there plus what flowed in since, at most `burst`. */
export const tokensAt = (bucket: TokenBucket, options: TokenBucketOptions, now: number): number =>
  Math.min(options.burst, bucket.tokens + (Math.max(0, now - bucket.at) * options.ratePerSecond) / 1000)

/** Takes a token now if one is there: the bucket after, or undefined (none: `reserve` instead). */
export const take = (bucket: TokenBucket, options: TokenBucketOptions, now: number): TokenBucket | undefined => {
  const tokens = tokensAt(bucket, options, now)
  return tokens >= 1 ? { tokens: tokens - 1, at: Math.max(bucket.at, now) } : undefined
}

/** Reserves the next token: the bucket after, and how long to wait for the token, in ms (0: it is there). */
export const reserve = (
  bucket: TokenBucket,
  options: TokenBucketOptions,
  now: number
): { readonly bucket: TokenBucket; readonly waitMs: number } => {
  const tokens = tokensAt(bucket, options, now)
  return {
    // A clock that stepped back credits no time twice.
    bucket: { tokens: tokens - 1, at: Math.max(bucket.at, now) },
    waitMs: tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * 1000) / options.ratePerSecond)
  }
}
