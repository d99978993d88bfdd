/**
 * How often a server renews the leases of the requests it holds (WebSocket `extend` frames in
 * service.ts, lease calls in http-service.ts): every third of the lease, so a renewal can be late
 * (a busy event loop, a slow network) or lost once before a lease runs out.
 */
export function renewEvery(leaseMs: number): number {
  return Math.max(1, Math.floor(leaseMs / 3));
}
