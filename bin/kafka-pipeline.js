#!/usr/bin/env -S node --max-semi-space-size=8
// V8 sizes the young generation from the machine's memory (64 MiB on 24 GiB): 8 MiB semi-spaces keep
// about 100 MB less resident at the same CPU per record (docs/BENCHMARKS.md, "Memory").
import "../dist/cli.js"
