import { Context, type Effect, Schema, type Stream } from "effect"
import type { Kind, Kinds, TokenReviewResult } from "../api/core.ts"

export const KubeErrorReason = Schema.Literals([
  "NotFound",
  "Conflict",
  "AlreadyExists",
  "Gone",
  "Forbidden",
  "Invalid",
  "Throttled",
  "Unavailable",
  "Unknown"
])
export type KubeErrorReason = typeof KubeErrorReason.Type

/** One error type for every API failure; `reason` says what the caller may do about it. */
export class KubeApiError extends Schema.TaggedError<KubeApiError>()("KubeApiError", {
  reason: KubeErrorReason,
  message: Schema.String,
  status: Schema.optionalKey(Schema.Number)
}) {
  /** Worth trying again unchanged: the server was busy, unreachable or the object moved on. */
  get retryable() {
    return this.reason === "Throttled" || this.reason === "Unavailable" || this.reason === "Conflict" || this.reason === "Unknown"
  }
}

export const reasonForStatus = (status: number): KubeErrorReason => {
  switch (status) {
    case 404:
      return "NotFound"
    case 409:
      return "Conflict"
    case 410:
      return "Gone"
    case 401:
    case 403:
      return "Forbidden"
    case 400:
    case 422:
      return "Invalid"
    case 429:
      return "Throttled"
    default:
      return status >= 500 ? "Unavailable" : "Unknown"
  }
}

export interface ListOptions {
  /** Omitted: all namespaces (or cluster-scoped kinds). */
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  /** e.g. `metadata.name=x`: one object's list and watch, as kubectl's `get NAME --watch` does. */
  readonly fieldSelector?: string | undefined
}

export interface WatchOptions extends ListOptions {
  readonly resourceVersion: string
}

export interface CreateOptions {
  readonly dryRun?: boolean
}

export type WatchEvent<A> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: A }
  | { readonly type: "BOOKMARK"; readonly resourceVersion: string }

export interface ListResult<A> {
  readonly items: ReadonlyArray<A>
  readonly resourceVersion: string
}

/** The verbs the operator needs, generic over the kinds it touches. Patches are JSON merge patches. */
export class KubeClient extends Context.Service<KubeClient, {
  readonly get: <K extends Kind>(kind: K, namespace: string | undefined, name: string) => Effect.Effect<Kinds[K], KubeApiError>
  /**
   * Lists in pages; `transform` is applied to each item as its page arrives, so a
   * 5,000-node list is never held whole and untrimmed (client-go's reflector pages too).
   */
  readonly list: <K extends Kind>(
    kind: K,
    options: ListOptions,
    transform?: (object: Kinds[K]) => Kinds[K]
  ) => Effect.Effect<ListResult<Kinds[K]>, KubeApiError>
  readonly watch: <K extends Kind>(kind: K, options: WatchOptions) => Stream.Stream<WatchEvent<Kinds[K]>, KubeApiError>
  /** With `dryRun`, the API server runs validation and admission (Pod Security, quotas, service accounts) and stores nothing. */
  readonly create: <K extends Kind>(kind: K, object: Kinds[K], options?: CreateOptions) => Effect.Effect<Kinds[K], KubeApiError>
  readonly remove: (
    kind: Kind,
    namespace: string | undefined,
    name: string,
    preconditions?: { readonly uid?: string | undefined }
  ) => Effect.Effect<void, KubeApiError>
  readonly patch: <K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    options?: { readonly subresource?: "status" }
  ) => Effect.Effect<Kinds[K], KubeApiError>
  /** A TokenReview: is this token valid for one of these audiences, and whose is it. */
  readonly reviewToken: (token: string, audiences: ReadonlyArray<string>) => Effect.Effect<TokenReviewResult, KubeApiError>
}>()("batch-workload-operator/KubeClient") {}

/**
 * A client for leader election only, with its own concurrency permits and no
 * rate limit: Lease renewals must never queue behind the controller's work,
 * or a busy leader would miss its renew deadline and stop acting.
 */
export class LeaderElectionKubeClient extends Context.Service<LeaderElectionKubeClient, (typeof KubeClient)["Service"]>()(
  "batch-workload-operator/LeaderElectionKubeClient"
) {}
