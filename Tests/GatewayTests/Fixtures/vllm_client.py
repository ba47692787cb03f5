"""PyPI's `openai` client against the Airlock gateway in front of vLLM (run by
VLLMServingTests.swift with the pinned venv of scripts/openai-client.sh).

    python vllm_client.py BASE_URL BASE_MODEL KEY LIMITED_KEY

KEY may use every model, LIMITED_KEY only 'claims'. Prints one JSON object: each model's
answer asked cold (temperature 0), the same prompts asked interleaved, a streamed answer, a
plain completion, the limited key's model list and its attempt on the base model, and the
keys of a whole answer and of a stream chunk (what a client can see of the engine).
"""

import json
import sys

import openai

from openai_client import failure, step  # the same recording of each step and its failure

PROMPT = "Is water damage covered?"


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    base_url, base, key, limited_key = sys.argv[1:]
    client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=120)
    limited = openai.OpenAI(base_url=base_url, api_key=limited_key, max_retries=0, timeout=120)
    models = [base, "claims", "legal"]
    result = {"models": [m.id for m in client.models.list().data]}

    def ask(model, prompt=PROMPT):
        answer = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}], max_tokens=8, temperature=0)
        return answer

    first = ask("claims")
    result["answer_keys"] = sorted(first.model_dump(exclude_unset=True).keys())
    result["choice_keys"] = sorted(first.choices[0].model_dump(exclude_unset=True).keys())
    result["message_keys"] = sorted(first.choices[0].message.model_dump(exclude_unset=True).keys())
    result["usage_keys"] = sorted(first.usage.model_dump(exclude_unset=True).keys())
    result["model_named"] = first.model
    result["cold"] = {m: ask(m).choices[0].message.content for m in models}
    result["interleaved"] = {m: [] for m in models}
    for _ in range(2):
        for m in ["legal", base, "claims"]:
            result["interleaved"][m].append(ask(m).choices[0].message.content)

    def stream():
        chunks = list(client.chat.completions.create(
            model="legal", messages=[{"role": "user", "content": PROMPT}], max_tokens=8, temperature=0,
            stream=True, stream_options={"include_usage": True}))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        usage = [c.usage for c in chunks if c.usage]
        chunk_keys = sorted(chunks[1].model_dump(exclude_unset=True).keys()) if len(chunks) > 1 else []
        return {"content": text, "chunks": len(chunks), "models": sorted({c.model for c in chunks}),
                "completion_tokens": usage[-1].completion_tokens if usage else 0, "chunk_keys": chunk_keys}

    step(result, "stream", stream)

    def completion():
        answer = client.completions.create(model="claims", prompt=PROMPT, max_tokens=8, temperature=0)
        return {"text": answer.choices[0].text, "model": answer.model, "object": answer.object,
                "keys": sorted(answer.model_dump(exclude_unset=True).keys())}

    step(result, "completion", completion)
    result["limited_models"] = [m.id for m in limited.models.list().data]
    step(result, "limited_base", lambda: limited.chat.completions.create(
        model=base, messages=[{"role": "user", "content": PROMPT}], max_tokens=4).model_dump())
    step(result, "limited_claims", lambda: limited.chat.completions.create(
        model="claims", messages=[{"role": "user", "content": PROMPT}], max_tokens=8, temperature=0).choices[0].message.content)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
