import { Context, Duration } from "effect"

/** How long node progress gathers before one status write carries it all: a 1,000-node run costs a write a second, not one per pod event. */
export const StatusFlushInterval = Context.Reference<Duration.Duration>("batch-workload-operator/StatusFlushInterval", {
  defaultValue: () => Duration.seconds(1)
})
