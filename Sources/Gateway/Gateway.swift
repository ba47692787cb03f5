// The OpenAI-compatible gateway (`airlock-serve`): `/v1/models`, `/v1/chat/completions`,
// `/v1/completions` with streaming, API-key clients bound to adapters, limits, and forwarding to
// the runtime (`Runtime.LlamaServer`) over its Unix socket with every adapter's scale explicit.
//
// Not built yet: issue #5 (Serving gateway).
