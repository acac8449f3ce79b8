import { Context, Duration } from "effect"

/** How long node progress gathers before one status write carries it all: a 1,000-node run costs a write a second, not one per pod event. */
export const StatusFlushInterval = Context.Reference<Duration.Duration>("batch-workload-operator/StatusFlushInterval", {
  defaultValue: () => Duration.seconds(1)
})

/**
 * Progress writes of one workload average at most this many bytes a second: a
 * 1,000-node status (~200 KB) still goes out every second, a 5,000-node one
 * (~1 MB) every 4 s, so the API server is not kept busy storing and sending
 * back the same megabyte while the run needs it for pods. Phase changes and
 * new runs are written at once whatever their size.
 */
export const statusBytesPerSecond = 256 * 1024
