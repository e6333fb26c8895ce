import { Tracer } from "effect"

/** A tracer that keeps every span it starts, for tests that check names, attributes and parents. */
export const recordingTracer = () => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = Tracer.nativeTracer.span(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}
