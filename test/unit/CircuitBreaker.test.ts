import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { BreakerEvent, BreakerOptions, BreakerState } from "../../src/domain/CircuitBreaker.js"
import { admits, initialBreaker, stateLabel, transition } from "../../src/domain/CircuitBreaker.js"

const options: BreakerOptions = { threshold: 3, openMs: 1_000, maxOpenMs: 5_000 }

const succeeded = (ticket: number, now: number): BreakerEvent => ({ _tag: "Succeeded", ticket, now })
const failed = (ticket: number, now: number): BreakerEvent => ({ _tag: "Failed", ticket, now })
const stalled = (now: number): BreakerEvent => ({ _tag: "Stalled", now })
const elapsed = (now: number): BreakerEvent => ({ _tag: "OpenTimeElapsed", now })
const probeStarted: BreakerEvent = { _tag: "ProbeStarted" }
const probeReleased = (ticket: number): BreakerEvent => ({ _tag: "ProbeReleased", ticket })

const run = (events: ReadonlyArray<BreakerEvent>, from: BreakerState = initialBreaker, opts: BreakerOptions = options) =>
  events.reduce((state, event) => transition(state, event, opts), from)

/** The ticket a call gets now; fails the test when none is admitted. */
const ticketOf = (state: BreakerState): number => {
  const ticket = admits(state)
  assert.isDefined(ticket, `a call should be admitted in ${JSON.stringify(state)}`)
  return ticket!
}

/** `n` failures of calls admitted in the current state, all at `now`. */
const failures = (state: BreakerState, n: number, now: number, opts: BreakerOptions = options): BreakerState => {
  let current = state
  for (let i = 0; i < n; i++) current = transition(current, failed(ticketOf(current), now), opts)
  return current
}

/** Opened by `threshold` failures at t=100 (generation 1, until 1100). */
const openedAt100 = () => failures(initialBreaker, options.threshold, 100)

/** Half-open at t=1100, no probe taken yet (generation 2). */
const halfOpen = () => transition(openedAt100(), elapsed(1_100), options)

/** Half-open at t=1100 with the probe taken: the probe's ticket and the state. */
const probing = () => {
  const state = halfOpen()
  const ticket = ticketOf(state)
  return { ticket, state: transition(state, probeStarted, options) }
}

describe("CircuitBreaker", () => {
  describe("closed", () => {
    it("starts closed, generation 0, since 0, no failures, admitting calls with ticket 0", () => {
      assert.deepStrictEqual(initialBreaker, { _tag: "Closed", generation: 0, since: 0, failures: 0 })
      assert.strictEqual(admits(initialBreaker), 0)
    })

    it("opens at exactly `threshold` failures in a row, not before", () => {
      const almost = failures(initialBreaker, options.threshold - 1, 50)
      assert.deepStrictEqual(almost, { _tag: "Closed", generation: 0, since: 0, failures: options.threshold - 1 })
      assert.strictEqual(admits(almost), 0)
      const opened = transition(almost, failed(0, 100), options)
      assert.deepStrictEqual(opened, { _tag: "Open", generation: 1, since: 100, openMs: 1_000, until: 1_100 })
      assert.isUndefined(admits(opened))
    })

    it("a threshold of 1 opens at the first failure", () => {
      const opened = transition(initialBreaker, failed(0, 7), { ...options, threshold: 1 })
      assert.deepStrictEqual(opened, { _tag: "Open", generation: 1, since: 7, openMs: 1_000, until: 1_007 })
    })

    it("a success resets the count of failures in a row", () => {
      const two = failures(initialBreaker, 2, 10)
      const reset = transition(two, succeeded(0, 20), options)
      assert.deepStrictEqual(reset, { _tag: "Closed", generation: 0, since: 0, failures: 0 })
      // Two more failures after the success do not open it (2 < 3), a third does.
      const again = failures(reset, 2, 30)
      assert.strictEqual(again._tag, "Closed")
      assert.strictEqual(failures(again, 1, 40)._tag, "Open")
    })

    it("a success with no failure to reset changes nothing: the same object", () => {
      assert.strictEqual(transition(initialBreaker, succeeded(0, 5), options), initialBreaker)
    })

    it("Stalled opens it from closed at once, whatever the failure count", () => {
      assert.deepStrictEqual(transition(initialBreaker, stalled(42), options), {
        _tag: "Open",
        generation: 1,
        since: 42,
        openMs: 1_000,
        until: 1_042
      })
      const two = failures(initialBreaker, 2, 10)
      assert.strictEqual(transition(two, stalled(42), options)._tag, "Open")
    })

    it("the first opening lasts openMs, capped at maxOpenMs", () => {
      const capped = failures(initialBreaker, 3, 0, { threshold: 3, openMs: 9_000, maxOpenMs: 4_000 })
      assert.deepStrictEqual(capped, { _tag: "Open", generation: 1, since: 0, openMs: 4_000, until: 4_000 })
    })

    it("probe-only events change nothing while closed", () => {
      const two = failures(initialBreaker, 2, 10)
      assert.strictEqual(transition(two, probeStarted, options), two)
      assert.strictEqual(transition(two, probeReleased(0), options), two)
      assert.strictEqual(transition(two, elapsed(1_000_000), options), two)
    })
  })

  describe("open", () => {
    it("admits no call, and turns half-open only at or after `until`", () => {
      const opened = openedAt100()
      assert.isUndefined(admits(opened))
      assert.strictEqual(transition(opened, elapsed(100), options), opened)
      assert.strictEqual(transition(opened, elapsed(1_099), options), opened)
      const atUntil = transition(opened, elapsed(1_100), options)
      assert.deepStrictEqual(atUntil, { _tag: "HalfOpen", generation: 2, since: 1_100, openMs: 1_000, probing: false })
      const later = transition(opened, elapsed(5_000), options)
      assert.deepStrictEqual(later, { _tag: "HalfOpen", generation: 2, since: 5_000, openMs: 1_000, probing: false })
    })

    it("Stalled, probe events and late results of calls started while closed change nothing", () => {
      const opened = openedAt100()
      for (
        const event of [
          stalled(500),
          probeStarted,
          probeReleased(0),
          probeReleased(1),
          succeeded(0, 500),
          failed(0, 500),
          succeeded(1, 500),
          failed(1, 500)
        ]
      ) {
        assert.strictEqual(transition(opened, event, options), opened, JSON.stringify(event))
      }
    })
  })

  describe("half-open", () => {
    it("admits one probe: once ProbeStarted, no other call", () => {
      const state = halfOpen()
      assert.strictEqual(admits(state), 2)
      const taken = transition(state, probeStarted, options)
      assert.deepStrictEqual(taken, { _tag: "HalfOpen", generation: 2, since: 1_100, openMs: 1_000, probing: true })
      assert.isUndefined(admits(taken))
      // A second ProbeStarted changes nothing.
      assert.strictEqual(transition(taken, probeStarted, options), taken)
    })

    it("the probe's success closes it: failures 0, a new generation, since the success", () => {
      const { state, ticket } = probing()
      const closed = transition(state, succeeded(ticket, 1_500), options)
      assert.deepStrictEqual(closed, { _tag: "Closed", generation: 3, since: 1_500, failures: 0 })
      assert.strictEqual(admits(closed), 3)
    })

    it("the probe's failure reopens it for twice as long, until now + openMs", () => {
      const { state, ticket } = probing()
      const reopened = transition(state, failed(ticket, 1_500), options)
      assert.deepStrictEqual(reopened, { _tag: "Open", generation: 3, since: 1_500, openMs: 2_000, until: 3_500 })
    })

    it("the doubled open time is capped at maxOpenMs", () => {
      const opts: BreakerOptions = { threshold: 1, openMs: 3_000, maxOpenMs: 5_000 }
      const opened = run([failed(0, 0), elapsed(3_000), probeStarted], initialBreaker, opts)
      const reopened = transition(opened, failed(2, 3_010), opts)
      assert.deepStrictEqual(reopened, { _tag: "Open", generation: 3, since: 3_010, openMs: 5_000, until: 8_010 })
    })

    it("ProbeReleased frees the probe for another call, in the same generation", () => {
      const { state, ticket } = probing()
      const released = transition(state, probeReleased(ticket), options)
      assert.deepStrictEqual(released, { _tag: "HalfOpen", generation: 2, since: 1_100, openMs: 1_000, probing: false })
      assert.strictEqual(admits(released), ticket)
      // Another probe can start, and its success closes the breaker.
      const second = transition(released, probeStarted, options)
      assert.isUndefined(admits(second))
      assert.strictEqual(transition(second, succeeded(ticket, 2_000), options)._tag, "Closed")
    })

    it("a result with the current ticket but no probe taken changes nothing", () => {
      const state = halfOpen()
      for (const event of [succeeded(2, 1_200), failed(2, 1_200), probeReleased(2)]) {
        assert.strictEqual(transition(state, event, options), state, JSON.stringify(event))
      }
    })

    it("Stalled and OpenTimeElapsed change nothing", () => {
      const { state } = probing()
      assert.strictEqual(transition(state, stalled(1_200), options), state)
      assert.strictEqual(transition(state, elapsed(99_999), options), state)
      const idle = halfOpen()
      assert.strictEqual(transition(idle, stalled(1_200), options), idle)
    })
  })

  describe("stale tickets", () => {
    it("results of calls admitted in an earlier generation change nothing", () => {
      const { state } = probing()
      // Tickets 0 (closed) and 1 (open, never admitted) are stale in generation 2.
      for (const ticket of [0, 1, 3, -1]) {
        for (const event of [succeeded(ticket, 1_200), failed(ticket, 1_200), probeReleased(ticket)]) {
          assert.strictEqual(transition(state, event, options), state, JSON.stringify(event))
        }
      }
    })

    it("a call started before the breaker opened and closed again does not count against the new closed state", () => {
      const { state, ticket } = probing()
      const closed = transition(state, succeeded(ticket, 1_500), options)
      // The calls of generation 0 fail late: the closed breaker of generation 3 does not count them.
      const late = run([failed(0, 1_600), failed(0, 1_601), failed(0, 1_602), failed(2, 1_603)], closed)
      assert.strictEqual(late, closed)
    })
  })

  it("after closing, the next opening lasts options.openMs again, not the doubled time", () => {
    // Two failed probes: 1000 → 2000 → 4000.
    let state = openedAt100()
    let now = 100
    for (let i = 0; i < 2; i++) {
      now = (state as Extract<BreakerState, { _tag: "Open" }>).until
      state = transition(state, elapsed(now), options)
      const ticket = ticketOf(state)
      state = run([probeStarted, failed(ticket, now)], state)
    }
    assert.strictEqual(state._tag === "Open" && state.openMs, 4_000)
    now = (state as Extract<BreakerState, { _tag: "Open" }>).until
    state = transition(state, elapsed(now), options)
    const ticket = ticketOf(state)
    state = run([probeStarted, succeeded(ticket, now + 1)], state)
    assert.strictEqual(state._tag, "Closed")
    const reopened = failures(state, options.threshold, now + 10)
    assert.deepStrictEqual(reopened, {
      _tag: "Open",
      generation: state.generation + 1,
      since: now + 10,
      openMs: 1_000,
      until: now + 1_010
    })
  })

  it("stateLabel names each state for logs and metrics", () => {
    assert.strictEqual(stateLabel("Closed"), "closed")
    assert.strictEqual(stateLabel("Open"), "open")
    assert.strictEqual(stateLabel("HalfOpen"), "half-open")
  })

  describe("properties", () => {
    const optionsArb = fc
      .record({
        threshold: fc.integer({ min: 1, max: 6 }),
        openMs: fc.integer({ min: 1, max: 5_000 }),
        extra: fc.integer({ min: 0, max: 50_000 })
      })
      .map(({ extra, openMs, threshold }): BreakerOptions => ({ threshold, openMs, maxOpenMs: openMs + extra }))

    /** How an event's ticket relates to the state it meets. */
    const ticketKind = fc.constantFrom("current" as const, "older" as const, "newer" as const)

    /** Commands turned into events against the state they meet, so that most of them matter. */
    type Command =
      | { readonly _tag: "Succeeded" | "Failed" | "ProbeReleased"; readonly ticket: "current" | "older" | "newer" }
      | { readonly _tag: "Stalled" | "ProbeStarted" }
      | { readonly _tag: "OpenTimeElapsed"; readonly atUntil: boolean }

    const command: fc.Arbitrary<{ readonly dt: number; readonly command: Command }> = fc.record({
      dt: fc.integer({ min: 0, max: 3_000 }),
      command: fc.oneof(
        fc.record({ _tag: fc.constantFrom("Succeeded" as const, "Failed" as const, "ProbeReleased" as const), ticket: ticketKind }),
        fc.record({ _tag: fc.constantFrom("Stalled" as const, "ProbeStarted" as const) }),
        fc.record({ _tag: fc.constant("OpenTimeElapsed" as const), atUntil: fc.boolean() })
      )
    })

    const toEvent = (state: BreakerState, command: Command, now: number): BreakerEvent => {
      switch (command._tag) {
        case "Stalled":
          return stalled(now)
        case "ProbeStarted":
          return probeStarted
        case "OpenTimeElapsed":
          return elapsed(command.atUntil && state._tag === "Open" ? Math.max(now, state.until) : now)
        default: {
          const ticket = command.ticket === "current"
            ? state.generation
            : command.ticket === "older"
            ? state.generation - 1
            : state.generation + 1
          return command._tag === "ProbeReleased" ? probeReleased(ticket) : { _tag: command._tag, ticket, now }
        }
      }
    }

    /** Every state met along the commands, with the event that led to the next. */
    const walk = (
      opts: BreakerOptions,
      commands: ReadonlyArray<{ readonly dt: number; readonly command: Command }>,
      visit: (before: BreakerState, event: BreakerEvent, after: BreakerState) => void
    ) => {
      let state = initialBreaker
      let now = 0
      for (const { command, dt } of commands) {
        now += dt
        const event = toEvent(state, command, now)
        if (event._tag === "OpenTimeElapsed") now = event.now
        const next = transition(state, event, opts)
        visit(state, event, next)
        state = next
      }
    }

    it("property: the generation never decreases, and grows by one exactly when the tag changes", () => {
      fc.assert(
        fc.property(optionsArb, fc.array(command, { maxLength: 60 }), (opts, commands) => {
          walk(opts, commands, (before, event, after) => {
            const message = `${JSON.stringify(before)} + ${JSON.stringify(event)} → ${JSON.stringify(after)}`
            assert.isAtLeast(after.generation, before.generation, message)
            assert.strictEqual(after.generation - before.generation, after._tag !== before._tag ? 1 : 0, message)
          })
        })
      )
    })

    it("property: a call is admitted exactly when closed, or half-open with no probe, with the current generation", () => {
      fc.assert(
        fc.property(optionsArb, fc.array(command, { maxLength: 60 }), (opts, commands) => {
          walk(opts, commands, (_before, _event, state) => {
            const expected = state._tag === "Closed" || (state._tag === "HalfOpen" && !state.probing)
            assert.strictEqual(admits(state), expected ? state.generation : undefined, JSON.stringify(state))
          })
        })
      )
    })

    it("property: events with a ticket of another generation, and events that change nothing, return the same object", () => {
      fc.assert(
        fc.property(optionsArb, fc.array(command, { maxLength: 60 }), (opts, commands) => {
          walk(opts, commands, (before, event, after) => {
            const message = `${JSON.stringify(before)} + ${JSON.stringify(event)}`
            if ("ticket" in event && event.ticket !== before.generation) assert.strictEqual(after, before, message)
            // Nothing changed ⇔ the same object.
            const same = JSON.stringify(after) === JSON.stringify(before)
            assert.strictEqual(after === before, same, message)
          })
        })
      )
    })

    it("property: the Open state always says until = since + openMs, with minimum ≤ openMs ≤ maxOpenMs", () => {
      fc.assert(
        fc.property(optionsArb, fc.array(command, { maxLength: 60 }), (opts, commands) => {
          walk(opts, commands, (_before, _event, state) => {
            if (state._tag === "Open") {
              assert.strictEqual(state.until, state.since + state.openMs)
              assert.isAtLeast(state.openMs, Math.min(opts.openMs, opts.maxOpenMs))
              assert.isAtMost(state.openMs, opts.maxOpenMs)
            }
          })
        })
      )
    })

    it("property (model): over successes and failures in closed, it opens exactly when a failure counter reaches threshold", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 8 }),
          fc.array(fc.boolean(), { maxLength: 80 }),
          (threshold, outcomes) => {
            const opts: BreakerOptions = { threshold, openMs: 1_000, maxOpenMs: 10_000 }
            // The reference model: failures in a row since the last success.
            let inARow = 0
            let state = initialBreaker
            for (const [i, ok] of outcomes.entries()) {
              const now = i + 1
              inARow = ok ? 0 : inARow + 1
              const ticket = ticketOf(state)
              state = transition(state, ok ? succeeded(ticket, now) : failed(ticket, now), opts)
              if (inARow >= threshold) {
                assert.deepStrictEqual(state, { _tag: "Open", generation: 1, since: now, openMs: 1_000, until: now + 1_000 })
                // It stays open: the late results of closed calls do not move it.
                const late = outcomes.slice(i + 1).map((ok2, j) => ok2 ? succeeded(0, now + j) : failed(0, now + j))
                assert.strictEqual(run(late, state, opts), state)
                return
              }
              assert.deepStrictEqual(state, { _tag: "Closed", generation: 0, since: 0, failures: inARow })
            }
          }
        )
      )
    })

    it("property: consecutive failed probes stay open min(openMs·2^k, maxOpenMs), until = now + openMs", () => {
      fc.assert(
        fc.property(
          optionsArb,
          fc.array(fc.record({ late: fc.integer({ min: 0, max: 10_000 }), probeMs: fc.integer({ min: 0, max: 10_000 }) }), {
            minLength: 1,
            maxLength: 25
          }),
          (opts, probes) => {
            let state = failures(initialBreaker, opts.threshold, 0, opts)
            assert.strictEqual(state._tag, "Open")
            for (const [k, { late, probeMs }] of probes.entries()) {
              const open = state as Extract<BreakerState, { _tag: "Open" }>
              assert.strictEqual(open.openMs, Math.min(opts.openMs * 2 ** k, opts.maxOpenMs), `opening ${k}`)
              const halfAt = open.until + late
              state = transition(state, elapsed(halfAt), opts)
              assert.strictEqual(state._tag, "HalfOpen")
              const ticket = ticketOf(state)
              const failAt = halfAt + probeMs
              state = run([probeStarted, failed(ticket, failAt)], state, opts)
              assert.strictEqual(state._tag, "Open")
              const reopened = state as Extract<BreakerState, { _tag: "Open" }>
              assert.strictEqual(reopened.since, failAt)
              assert.strictEqual(reopened.until, failAt + reopened.openMs)
              assert.strictEqual(reopened.generation, open.generation + 2)
            }
            const last = state as Extract<BreakerState, { _tag: "Open" }>
            assert.strictEqual(last.openMs, Math.min(opts.openMs * 2 ** probes.length, opts.maxOpenMs))
          }
        )
      )
    })
  })
})
