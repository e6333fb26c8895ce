/**
 * The HTTP endpoints: `/metrics` (Prometheus text, brought up to date from the
 * run state), `/health` (liveness: the run's fibers) and `/ready` (readiness:
 * in the group, with partitions), for the run attached at the time.
 */
import { NodeHttpServer } from "@effect/platform-node"
import type { Scope } from "effect"
import { Context, Effect, Layer, Ref, SubscriptionRef } from "effect"
import { HttpRouter, HttpServer, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { createServer } from "node:http"
import { stateLabel } from "../../domain/CircuitBreaker.js"
import { ConfigError } from "../../domain/Errors.js"
import { partitionKey } from "../../domain/KafkaRecord.js"
import type { RunState } from "../RunState.js"
import type { RunMetrics } from "./PipelineMetrics.js"

/** What a running pipeline shows of itself to the endpoints, the lag reader and the progress line. */
export interface RunProbe {
  readonly groupId: string
  readonly topics: ReadonlyArray<string>
  readonly runState: RunState["Service"]
  readonly isInGroup: Effect.Effect<boolean>
}

const json = (status: number, body: unknown) => HttpServerResponse.jsonUnsafe(body, { status })

const fiberStates = (run: RunProbe) =>
  Object.fromEntries(
    Array.from(run.runState.fibers, ([name, fiber]) => [name, fiber.pollUnsafe() === undefined ? "running" : "ended"])
  )

const routes = (attached: Ref.Ref<RunProbe | undefined>, metrics: RunMetrics) =>
  Layer.mergeAll(
    HttpRouter.add(
      "GET",
      "/metrics",
      Effect.gen(function*() {
        const run = yield* Ref.get(attached)
        if (run !== undefined) metrics.sync(yield* run.runState.snapshot)
        return HttpServerResponse.text(PrometheusMetrics.formatUnsafe(metrics.context), {
          contentType: "text/plain; version=0.0.4; charset=utf-8"
        })
      })
    ),
    HttpRouter.add(
      "GET",
      "/health",
      Effect.gen(function*() {
        const run = yield* Ref.get(attached)
        const phase = run === undefined ? undefined : yield* SubscriptionRef.get(run.runState.phase)
        if (run === undefined || phase?._tag === "Starting") return json(200, { status: "starting" })
        const fibers = fiberStates(run)
        if (phase?._tag !== "Running") return json(200, { status: "stopping", fibers })
        const ended = Object.values(fibers).includes("ended")
        return json(ended ? 503 : 200, { status: ended ? "failed" : "running", fibers })
      })
    ),
    HttpRouter.add(
      "GET",
      "/ready",
      Effect.gen(function*() {
        const run = yield* Ref.get(attached)
        const phase = run === undefined ? undefined : yield* SubscriptionRef.get(run.runState.phase)
        if (run === undefined || phase?._tag === "Starting") return json(503, { status: "not ready", reason: "starting" })
        if (phase?._tag !== "Running") return json(503, { status: "not ready", reason: "stopping" })
        if (!(yield* run.isInGroup)) {
          return json(503, { status: "not ready", reason: "not in the consumer group (or the broker is unreachable)" })
        }
        const assignment = (yield* SubscriptionRef.get(run.runState.assignment)).map((tp) => partitionKey(tp.topic, tp.partition))
        if (assignment.length === 0) return json(503, { status: "not ready", reason: "no partitions assigned" })
        const breaker = yield* SubscriptionRef.get(run.runState.breaker)
        if (breaker._tag !== "Closed") {
          return json(503, {
            status: "not ready",
            reason: "the circuit breaker is open: the processor's downstream is failing, no record starts processing but a probe",
            breaker: stateLabel(breaker._tag),
            since: new Date(breaker.since).toISOString(),
            assignment
          })
        }
        return json(200, { status: "ready", assignment })
      })
    )
  )

/**
 * Serves the endpoints on `port` (0: any free port) until the scope closes;
 * logs the URL. A port that cannot be listened on is a `ConfigError` naming
 * `metricsPort`.
 */
export const serve = (
  port: number,
  attached: Ref.Ref<RunProbe | undefined>,
  metrics: RunMetrics
): Effect.Effect<void, ConfigError, Scope.Scope> =>
  Effect.gen(function*() {
    const server = yield* Layer.build(
      HttpRouter.serve(routes(attached, metrics), { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provideMerge(NodeHttpServer.layer(() => createServer(), { port }))
      )
    ).pipe(
      Effect.mapError((error) =>
        new ConfigError({ issues: [`metricsPort: cannot listen on port ${port}: ${String(error.cause)}`] })
      )
    )
    // A TCP listener on every interface (a port was given): the logged URL names this host's loopback.
    const address = Context.get(server, HttpServer.HttpServer).address as { readonly port: number }
    const url = `http://localhost:${address.port}`
    yield* Effect.logInfo(`serving ${url}/metrics, /health and /ready`).pipe(
      Effect.annotateLogs({ metricsUrl: `${url}/metrics` })
    )
  })
