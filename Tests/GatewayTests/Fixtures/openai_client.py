"""PyPI's `openai` client against the Airlock gateway (run by OpenAIClientTests.swift with the
pinned venv of scripts/openai-client.sh).

    python openai_client.py BASE_URL KEY [LIMITED_KEY]

KEY belongs to a client allowed every model ('*'); LIMITED_KEY, if given, to one allowed only
'claims'. Runs each step, records what the client returned or raised, and prints one JSON object
on stdout: the Swift test asserts on it. A step that raised records {"error": CLASS, ...}; the
script itself exits 0 unless its own arguments are wrong.
"""

import json
import sys

import openai

PROMPT = "Is water damage covered?"


def failure(error):
    return {
        "error": type(error).__name__,
        "status": getattr(error, "status_code", None),
        "message": str(error)[:500],
        "authentication_error": isinstance(error, openai.AuthenticationError),
        "permission_denied_error": isinstance(error, openai.PermissionDeniedError),
        "not_found_error": isinstance(error, openai.NotFoundError),
    }


def step(result, name, action):
    try:
        result[name] = action()
    except Exception as error:  # recorded for the test to assert on, never swallowed silently
        result[name] = failure(error)


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 64
    base_url, key = sys.argv[1], sys.argv[2]
    limited_key = sys.argv[3] if len(sys.argv) == 4 else None

    def connect(api_key):
        return openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=120)

    client = connect(key)
    result = {"openai_version": openai.__version__}

    def models():
        return [model.id for model in client.models.list()]

    def chat():
        response = client.chat.completions.create(
            model="claims", messages=[{"role": "user", "content": PROMPT}], temperature=0, max_tokens=12)
        choice = response.choices[0]
        return {
            "content": choice.message.content,
            "role": choice.message.role,
            "finish_reason": choice.finish_reason,
            "model": response.model,
            "object": response.object,
            "completion_tokens": response.usage.completion_tokens if response.usage else None,
        }

    def stream():
        chunks = client.chat.completions.create(
            model="legal", messages=[{"role": "user", "content": PROMPT}], temperature=0, max_tokens=12,
            stream=True, stream_options={"include_usage": True})
        text, count, usage, finish = [], 0, None, None
        for chunk in chunks:
            count += 1
            if chunk.usage is not None:
                usage = chunk.usage.completion_tokens
            for choice in chunk.choices:
                if choice.delta is not None and choice.delta.content:
                    text.append(choice.delta.content)
                if choice.finish_reason:
                    finish = choice.finish_reason
        return {"content": "".join(text), "chunks": count, "completion_tokens": usage, "finish_reason": finish}

    def completion():
        response = client.completions.create(model="claims", prompt=PROMPT, temperature=0, max_tokens=12)
        return {
            "text": response.choices[0].text,
            "model": response.model,
            "object": response.object,
            "finish_reason": response.choices[0].finish_reason,
        }

    def refused(action):
        def run():
            value = action()
            return {"error": None, "unexpected_success": repr(value)[:500]}
        return run

    step(result, "models", models)
    step(result, "chat", chat)
    step(result, "stream", stream)
    step(result, "completion", completion)
    step(result, "wrong_key", refused(lambda: [m.id for m in connect("sk-airlock-not-a-real-key").models.list()]))
    step(result, "wrong_key_chat", refused(lambda: connect("wrong").chat.completions.create(
        model="claims", messages=[{"role": "user", "content": PROMPT}], max_tokens=4)))
    step(result, "unknown_model", refused(lambda: client.chat.completions.create(
        model="no-such-model", messages=[{"role": "user", "content": PROMPT}], max_tokens=4)))
    if limited_key:
        limited = connect(limited_key)
        step(result, "limited_models", lambda: [model.id for model in limited.models.list()])
        step(result, "limited_other_adapter", refused(lambda: limited.chat.completions.create(
            model="legal", messages=[{"role": "user", "content": PROMPT}], max_tokens=4)))
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
