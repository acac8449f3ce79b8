import { Effect, Schedule } from "effect"
import { group } from "../api/BatchWorkload.ts"
import { KubeClient } from "../kube/KubeClient.ts"

/** On the leader's own pod: the callback Service selects it, so pods' reports reach the replica that runs the work. */
export const leaderLabel = `${group}/leader`

export interface PodRef {
  readonly namespace: string
  readonly name: string
}

/** `namespace/name`, as --leader-label-pod (LEADER_LABEL_POD) gives this replica's pod. */
export const parsePodRef = (text: string): PodRef | undefined => {
  const [namespace, name, ...rest] = text.split("/")
  return namespace && name && rest.length === 0 ? { namespace, name } : undefined
}

/**
 * Labels this replica's pod as the leader's, or takes the label off. A
 * failure is logged and the work goes on: only callbacks go astray meanwhile,
 * and the next change of leader sets the labels again.
 */
export const markLeader = (pod: PodRef, leading: boolean) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    yield* kube.patch("pods", pod.namespace, pod.name, { metadata: { labels: { [leaderLabel]: leading ? "true" : null } } }).pipe(
      Effect.retry({ schedule: Schedule.exponential("200 millis"), times: 3, while: (error) => error.retryable })
    )
  }).pipe(
    Effect.catch((error) =>
      Effect.logWarning(`could not ${leading ? "label" : "unlabel"} pod ${pod.namespace}/${pod.name} as the leader: ${error.message}`)
    )
  )
