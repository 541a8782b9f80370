"""The demo platform: a seeded simulation of learners, their telemetry and spoken answers,
published to a local storage emulator. Tooling for the demo, tests and benchmarks; production
code never imports it (an import contract checks that)."""
