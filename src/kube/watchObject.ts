import { Effect, Stream } from "effect"
import { type Kind, type Kinds, objectKey } from "../api/core.ts"
import { makeInformer } from "./Informer.ts"

/**
 * One object as it changes: its state now, then again after every change
 * (`undefined` once it is gone). Built on the informer (list, then watch,
 * resumed and relisted as needed) narrowed by a field selector to the one
 * object, so it costs one watch and never polls. Level-based: each element is
 * the whole object as the cache holds it, not the event's payload.
 */
export const watchObject = <K extends Kind>(kind: K, namespace: string, name: string) =>
  Stream.unwrap(Effect.gen(function*() {
    const informer = yield* makeInformer(kind, { namespace, fieldSelector: `metadata.name=${name}` })
    const changes = yield* informer.changes
    yield* informer.synced
    const key = objectKey({ name, namespace })
    const current = () => informer.get(key)
    return Stream.concat(Stream.sync(current), changes.pipe(Stream.map(current))).pipe(
      // The list and the subscription may both report the first version: one element per version.
      Stream.changesWith((a: Kinds[K] | undefined, b: Kinds[K] | undefined) =>
        a?.metadata.resourceVersion === b?.metadata.resourceVersion
      )
    )
  }))
