/**
 * Types `env` and `exports` from "cloudflare:workers" inside workerd tests: the relay's bindings
 * (src/env.ts) and its main module (src/index.ts) with its two Durable Object classes.
 */
import type { Env as RelayEnv } from "../../src/env.js";

declare global {
  namespace Cloudflare {
    interface Env extends RelayEnv {}
    interface GlobalProps {
      mainModule: typeof import("../../src/index.js");
      durableNamespaces: "QueueDO" | "ExchangeDO";
    }
  }
}
