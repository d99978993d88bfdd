/**
 * The EdgeMQ wire protocol: frames, codec, bodies, errors and limits. Shared by the relay
 * (src/, durable-objects/) and the SDK (client/); imports nothing outside this folder.
 */
export * from "./body.js";
export * from "./codec.js";
export * from "./content-type.js";
export * from "./errors.js";
export * from "./frame-size.js";
export * from "./frames.js";
export { MAX_ENCODED_HEADERS_CHARS } from "./headers-encoding.js";
export * from "./http-headers.js";
export * from "./limits.js";
export * from "./outcomes-answer.js";
export * from "./result.js";
export * from "./token.js";
export * from "./typed-content.js";
export * from "./validate.js";
