/**
 * Type-level checks of the SDK's public API under the DOM's types (a browser or bundler project),
 * compiled by `npm run typecheck` (tsconfig.types.json); nothing here runs.
 */
import { connect, type FetchLike } from "../../client/index.js";

// The platform's fetch can be passed as it is (README: the `fetch` option).
export const platformFetch: FetchLike = globalThis.fetch;
export const peer = () => connect("https://relay.example", { transport: "http", fetch: fetch });
