import { Context, Duration } from "effect"

/** How long node progress gathers before one status write carries it all: at most a write a second (fewer for a large status, below), not one per pod event. */
export const StatusFlushInterval = Context.Reference<Duration.Duration>("batch-workload-operator/StatusFlushInterval", {
  defaultValue: () => Duration.seconds(1)
})

/**
 * Progress writes of one workload average at most this many bytes a second: a
 * 100-node status goes out every second, a 1,000-node one (~160 KB) every
 * 2.5 s, a 5,000-node one (~800 KB) every 12 s. Each write costs kube-apiserver
 * about a millisecond of CPU per KB (decode, validate, store, send back on the
 * watch): at 1,000 nodes and a write a second that was ~3 CPU s of a 15 s run
 * on two cores, taken from the pods (BENCHMARKS.md, session 6). Phase changes
 * and new runs are written at once whatever their size.
 */
export const statusBytesPerSecond = 64 * 1024
