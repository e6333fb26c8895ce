#!/usr/bin/env -S node --disable-warning=TimeoutNegativeWarning
// kafkajs 2.2.4's request queue calls setTimeout with a negative delay (Node clamps it to 1 ms):
// harmless, but Node 24 prints a TimeoutNegativeWarning for it on every run.
import "../dist/cli.js"
