/** Test helper: the `code` of the EdgeMQError `fn` throws, undefined when it returns. */
import { EdgeMQError } from "../../protocol/index.js";

export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof EdgeMQError ? error.code : "not an EdgeMQError";
  }
}
