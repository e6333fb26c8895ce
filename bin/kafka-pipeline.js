#!/usr/bin/env -S node --max-semi-space-size=16
// V8 sizes the young generation from the machine's memory (two 32 MiB semi-spaces on 24 GiB):
// 16 MiB keeps less resident for a little more collecting (docs/BENCHMARKS.md, "Memory").
import "../dist/cli.js"
