import { Clock, Duration, Effect, Metric, Schema } from "effect"
import type { Lease } from "../api/core.ts"
import { type KubeApiError, LeaderElectionKubeClient } from "../kube/KubeClient.ts"

export interface LeaderElectionConfig {
  readonly leaseName: string
  readonly namespace: string
  readonly identity: string
  /** How long a lease nobody renews stays held: a standby takes over after this. */
  readonly leaseDuration: Duration.Duration
  /** A leader that has not renewed for this long stops acting. Shorter than leaseDuration, so it stops before anyone else starts. */
  readonly renewDeadline: Duration.Duration
  /** How often candidates try to acquire and the leader renews. */
  readonly retryPeriod: Duration.Duration
}

export class LeaseLost extends Schema.TaggedError<LeaseLost>()("LeaseLost", { message: Schema.String }) {}

export const isLeader = Metric.gauge("batch_operator_leader", {
  description: "1 while this process holds the leader-election Lease"
})

/** Lease times are MicroTime: RFC 3339 with exactly six fractional digits. */
const microTime = (millis: number) => new Date(millis).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z")

/**
 * client-go's Lease-based leader election. Expiry is judged by when this
 * process last saw the lease record change, not by the holder's clock, so
 * clock skew between replicas cannot cause two leaders.
 */
export const makeLeaderElector = (config: LeaderElectionConfig) =>
  Effect.gen(function*() {
    // Its own client: renewals must not wait for permits or tokens behind the controller's requests.
    const kube = yield* LeaderElectionKubeClient
    const durationSeconds = Math.max(1, Math.round(Duration.toSeconds(config.leaseDuration)))
    let observed: { readonly resourceVersion: string; readonly atMillis: number } | undefined

    const leaseSpec = (now: number, previous: Lease["spec"], holderChanges: boolean) => ({
      holderIdentity: config.identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: holderChanges ? microTime(now) : previous?.acquireTime ?? microTime(now),
      renewTime: microTime(now),
      leaseTransitions: previous === undefined ? 0 : (previous.leaseTransitions ?? 0) + (holderChanges ? 1 : 0)
    })

    /** One round: true when this process holds the lease afterwards. */
    const tryAcquireOrRenew: Effect.Effect<boolean, KubeApiError> = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const lease = yield* kube.get("leases", config.namespace, config.leaseName).pipe(
        Effect.catchIf((error) => error.reason === "NotFound", () => Effect.succeed(undefined))
      )
      if (lease === undefined) {
        return yield* kube.create("leases", {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: config.leaseName, namespace: config.namespace },
          spec: leaseSpec(now, undefined, true)
        }).pipe(
          Effect.as(true),
          Effect.catchIf((error) => error.reason === "AlreadyExists", () => Effect.succeed(false))
        )
      }
      const resourceVersion = lease.metadata.resourceVersion ?? ""
      if (observed?.resourceVersion !== resourceVersion) observed = { resourceVersion, atMillis: now }
      const holder = lease.spec?.holderIdentity ?? ""
      const heldByOther = holder !== "" && holder !== config.identity
      const expiresAt = observed.atMillis + (lease.spec?.leaseDurationSeconds ?? durationSeconds) * 1000
      if (heldByOther && now < expiresAt) return false
      return yield* kube.patch("leases", config.namespace, config.leaseName, {
        metadata: { resourceVersion },
        spec: leaseSpec(now, lease.spec, holder !== config.identity)
      }).pipe(
        Effect.as(true),
        Effect.catchIf((error) => error.reason === "Conflict", () => Effect.succeed(false))
      )
    })

    const tryQuietly = tryAcquireOrRenew.pipe(
      Effect.timeoutOrElse({ duration: config.retryPeriod, orElse: () => Effect.succeed(false) }),
      Effect.catch((error) => Effect.logWarning(`leader election: ${error.message}`).pipe(Effect.as(false)))
    )

    const acquire = Effect.gen(function*() {
      while (!(yield* tryQuietly)) yield* Effect.sleep(config.retryPeriod)
    })

    /** Renews every retryPeriod; fails with LeaseLost once renewing has not worked for renewDeadline. */
    const keepRenewing = Effect.gen(function*() {
      let renewedAt = yield* Clock.currentTimeMillis
      while (true) {
        yield* Effect.sleep(config.retryPeriod)
        const now = yield* Clock.currentTimeMillis
        if (yield* tryQuietly) renewedAt = now
        else if (now - renewedAt >= Duration.toMillis(config.renewDeadline)) {
          return yield* new LeaseLost({ message: `could not renew lease ${config.namespace}/${config.leaseName}` })
        }
      }
    })

    /** Hands the lease back so a standby can take over at once instead of waiting for it to expire. */
    const release = Effect.gen(function*() {
      const lease = yield* kube.get("leases", config.namespace, config.leaseName)
      if (lease.spec?.holderIdentity !== config.identity) return
      const now = yield* Clock.currentTimeMillis
      yield* kube.patch("leases", config.namespace, config.leaseName, {
        metadata: { resourceVersion: lease.metadata.resourceVersion },
        spec: { holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(now) }
      })
      yield* Effect.logInfo("released the leader lease")
    }).pipe(Effect.catch((error) => Effect.logWarning(`could not release the lease: ${error.message}`)))

    /**
     * Runs `work` only while this process leads. Losing the lease interrupts
     * `work` at once; the process then stands by again. Interrupting this
     * effect (shutdown) releases the lease.
     */
    const runWhileLeader = <E, R>(work: Effect.Effect<void, E, R>) =>
      Effect.gen(function*() {
        while (true) {
          yield* Effect.logInfo(`waiting to acquire lease ${config.namespace}/${config.leaseName} as ${config.identity}`)
          yield* acquire
          yield* Effect.logInfo("became leader")
          yield* Metric.update(isLeader, 1)
          const outcome = yield* Effect.result(Effect.raceFirst(work, keepRenewing).pipe(
            Effect.onInterrupt(() => release.pipe(Effect.andThen(Metric.update(isLeader, 0))))
          ))
          yield* Metric.update(isLeader, 0)
          yield* Effect.logWarning(
            outcome._tag === "Failure" && outcome.failure instanceof LeaseLost
              ? `${outcome.failure.message}: stopped acting as leader`
              : "leader work ended; standing by"
          )
        }
      })

    return { runWhileLeader, tryAcquireOrRenew }
  })
