"""Pure rules: plans and prices, metering math, edge names, validation, pod config.

No I/O: workflows may import these."""
