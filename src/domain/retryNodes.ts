/**
 * A retry of some nodes only, from the `batch.example.com/retry-nodes`
 * annotation: `<token>:<node>,<node>…`. A new value (a new token) gives those
 * nodes a fresh attempt count and replaces their pods; the rest of the run
 * keeps its record. Node names cannot hold `:` or `,`, so the value is
 * unambiguous; the token is anything without a `:` (a timestamp, say).
 */
export interface RetryNodes {
  readonly value: string
  readonly nodes: ReadonlySet<string>
}

/** `undefined` for an absent or malformed value (no token, no node): nothing is retried. */
export const parseRetryNodes = (value: string | undefined): RetryNodes | undefined => {
  if (value === undefined) return undefined
  const colon = value.indexOf(":")
  if (colon <= 0) return undefined
  const nodes = value.slice(colon + 1).split(",").map((name) => name.trim()).filter((name) => name !== "")
  return nodes.length > 0 ? { value, nodes: new Set(nodes) } : undefined
}

export const formatRetryNodes = (token: string, nodes: ReadonlyArray<string>) => `${token}:${nodes.join(",")}`
