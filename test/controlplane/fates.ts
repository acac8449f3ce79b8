// Pod fates understood by test/controlplane/kwok-stages.yaml. Put these annotations on a pod
// (for the operator: in BatchWorkload spec.podAnnotations, which it copies onto every pod).

/** Which way a pod goes. Absent or "" means "ready". */
export const fateAnnotation = "kwok.batch.example.com/fate"
/** Integer milliseconds for each timed step (Running -> Ready, Ready -> Succeeded, Running -> Failed, ErrImagePull -> ImagePullBackOff). Default 300. */
export const delayAnnotation = "kwok.batch.example.com/delay-ms"
/** Exit code of a failed container (fate fail / fail-once). Default 1. */
export const exitCodeAnnotation = "kwok.batch.example.com/exit-code"
/** Termination message of a failed container and the pod's status.message. */
export const messageAnnotation = "kwok.batch.example.com/message"
/** Set by the operator: 1-based attempt number; "fail-once" fails only when it is "1" (or absent). */
export const attemptAnnotation = "batch.example.com/attempt"

export const podFates = ["ready", "complete", "fail", "fail-once", "pending", "image-pull-error", "crash-loop"] as const
export type PodFate = (typeof podFates)[number]

export interface FateOptions {
  readonly delayMs?: number
  readonly exitCode?: number
  readonly message?: string
}

/** The annotations that give a pod `fate`, e.g. `{ ...fateAnnotations("fail", { delayMs: 2000 }) }`. */
export const fateAnnotations = (fate: PodFate, opts: FateOptions = {}): Record<string, string> => ({
  [fateAnnotation]: fate,
  ...(opts.delayMs === undefined ? {} : { [delayAnnotation]: String(Math.round(opts.delayMs)) }),
  ...(opts.exitCode === undefined ? {} : { [exitCodeAnnotation]: String(opts.exitCode) }),
  ...(opts.message === undefined ? {} : { [messageAnnotation]: opts.message })
})
