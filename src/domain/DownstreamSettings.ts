/**
 * The settings of what the pipeline does when the processor's downstream is
 * down or slow, or the DLQ fills: the circuit breaker, the rate limit and the
 * DLQ budget. A part of the one option table (`ConfigOptions.ts`), kept here
 * to keep that file readable.
 */
import { Schema } from "effect"
import { setting } from "./ConfigOption.js"
import { IntAtLeast, PositiveMs, Ratio } from "./ConfigValues.js"

export const downstreamSettings = {
  circuitBreaker: setting({
    schema: Schema.Boolean,
    rule: "a boolean",
    kind: "boolean",
    default: true,
    description:
      "Circuit breaker in front of the processor: after breakerThreshold retryable failures in a row, no record starts processing (records that failed wait instead of going to the DLQ) until a probe record succeeds."
  }),
  breakerThreshold: setting({
    schema: IntAtLeast(1),
    rule: "an integer ≥ 1",
    kind: "integer",
    default: 20,
    description: "Retryable processing failures in a row (no success between them) that open the circuit breaker (≥ 1)."
  }),
  breakerOpenMs: setting({
    schema: PositiveMs,
    rule: "a number > 0",
    kind: "number",
    default: 5000,
    description: "How long the circuit breaker first stays open before a probe record, in ms (> 0); doubles each time the probe fails."
  }),
  breakerMaxOpenMs: setting({
    schema: PositiveMs,
    rule: "a number > 0",
    kind: "number",
    default: 300_000,
    description: "The longest the circuit breaker stays open between probes, in ms (≥ breakerOpenMs)."
  }),
  maxRecordsPerSecond: setting({
    schema: PositiveMs,
    rule: "a number > 0",
    kind: "number",
    metavar: "rate",
    description:
      "Rate limit: at most this many processor calls (retries included) per second, for the whole pipeline; no limit when unset."
  }),
  rateLimitBurst: setting({
    schema: IntAtLeast(1),
    rule: "an integer ≥ 1",
    kind: "integer",
    description: "Calls the rate limit lets through at once after a quiet time (≥ 1); when unset, one second's worth."
  }),
  dlqMaxRatio: setting({
    schema: Ratio,
    rule: "a number between 0 and 1",
    kind: "number",
    metavar: "ratio",
    description:
      "DLQ budget: stop the run (exit 1) when more than this share of the last dlqRatioWindow handled records went to the DLQ; off when unset."
  }),
  dlqRatioWindow: setting({
    schema: IntAtLeast(1),
    rule: "an integer ≥ 1",
    kind: "integer",
    default: 1000,
    description: "Handled records over which dlqMaxRatio is judged (≥ 1)."
  }),
  dlqMaxConsecutive: setting({
    schema: IntAtLeast(1),
    rule: "an integer ≥ 1",
    kind: "integer",
    description: "DLQ budget: stop the run (exit 1) when more than this many records in a row went to the DLQ; off when unset."
  })
}
