"""Structured outputs through the Airlock gateway with PyPI's `openai` client (run by
StructuredOutputTests.swift and VLLMServingTests.swift with the venv of scripts/openai-client.sh).

    python structured_client.py BASE_URL KEY MODEL [MODEL ...]

Asks each model for a claim decision under one JSON schema (response_format json_schema),
whole and streamed, at temperature 0 and with a few seeds, and checks every answer it gets
with its own reading of the schema (below, written for this schema alone: independent of the
gateway's check). Then sends schemas the gateway must refuse. Prints one JSON object.
"""

import json
import sys

import openai

from openai_client import failure

REASONS = ["water", "fire", "theft", "other"]
SCHEMA = {
    "type": "object",
    "properties": {
        "decision": {"enum": ["approve", "refer", "decline"]},
        "amount": {"type": "integer", "minimum": 0, "maximum": 5000},
        "urgent": {"type": "boolean"},
        "reasons": {"type": "array", "items": {"$ref": "#/$defs/reason"}, "maxItems": 2},
        "note": {"type": "string", "maxLength": 16},
    },
    "required": ["decision", "amount", "urgent", "reasons", "note"],
    "additionalProperties": False,
    "$defs": {"reason": {"enum": REASONS}},
}


def problem(text):
    """Why text is not a valid answer under SCHEMA; None when it is."""
    try:
        value = json.loads(text)  # strict: raw control characters in a string are refused
    except ValueError as error:
        return f"not JSON: {error}"
    if not isinstance(value, dict):
        return "not an object"
    if set(value) != set(SCHEMA["required"]):
        return f"members {sorted(value)}"
    if value["decision"] not in ("approve", "refer", "decline"):
        return "decision"
    amount = value["amount"]
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= 5000:
        return f"amount {amount!r}"
    if not isinstance(value["urgent"], bool):
        return "urgent"
    reasons = value["reasons"]
    if not isinstance(reasons, list) or len(reasons) > 2 or any(r not in REASONS for r in reasons):
        return f"reasons {reasons!r}"
    note = value["note"]
    if not isinstance(note, str) or len(note) > 16:
        return f"note {note!r}"
    return None


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    base_url, key, models = sys.argv[1], sys.argv[2], sys.argv[3:]
    client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=120)
    response_format = {"type": "json_schema", "json_schema": {"name": "claim_decision", "schema": SCHEMA, "strict": True}}
    messages = [{"role": "user", "content": "Decide the claim: burst pipe, kitchen floor, 1200 EUR. Answer in JSON."}]

    answers = []
    for model in models:
        for stream in (False, True):
            for seed in (None, 1, 2):
                entry = {"model": model, "stream": stream, "seed": seed}
                options = {"temperature": 0} if seed is None else {"temperature": 0.9, "seed": seed}
                try:
                    if stream:
                        chunks = list(client.chat.completions.create(
                            model=model, messages=messages, max_tokens=400, response_format=response_format,
                            stream=True, **options))
                        entry["text"] = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
                        finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
                        entry["finish"] = finishes[-1] if finishes else None
                    else:
                        answer = client.chat.completions.create(
                            model=model, messages=messages, max_tokens=400, response_format=response_format, **options)
                        entry["text"] = answer.choices[0].message.content
                        entry["finish"] = answer.choices[0].finish_reason
                    entry["status"] = 200
                    entry["problem"] = problem(entry["text"]) if entry["finish"] == "stop" else None
                except openai.APIError as error:
                    entry.update(failure(error))
                    body = getattr(error, "body", None)
                    entry["code"] = (body or {}).get("code") if isinstance(body, dict) else getattr(error, "code", None)
                answers.append(entry)

    # JSON mode: valid JSON or an error, never broken JSON.
    json_mode = {}
    try:
        answer = client.chat.completions.create(
            model=models[0], messages=messages, max_tokens=64, temperature=0, response_format={"type": "json_object"})
        json_mode = {"status": 200, "finish": answer.choices[0].finish_reason, "text": answer.choices[0].message.content}
        if json_mode["finish"] == "stop":
            try:
                json.loads(json_mode["text"])
                json_mode["valid"] = True
            except ValueError as error:
                json_mode["valid"] = False
                json_mode["problem"] = str(error)
    except openai.APIError as error:
        json_mode = failure(error)
        json_mode["code"] = getattr(error, "code", None)

    # Schemas no engine is sure to enforce: refused before anything is generated.
    hostile = {
        "remote_ref": {"$ref": "https://schemas.example.com/claim.json"},
        "pattern": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
        "unknown_keyword": {"type": "object", "propertyOrder": ["a"]},
        "recursive": {"$ref": "#/$defs/node", "$defs": {"node": {"type": "array", "items": {"$ref": "#/$defs/node"}}}},
        "number_bounds": {"type": "number", "maximum": 3},
    }
    refusals = {}
    for name, schema in hostile.items():
        try:
            client.chat.completions.create(
                model=models[0], messages=messages, max_tokens=8,
                response_format={"type": "json_schema", "json_schema": {"name": name, "schema": schema}})
            refusals[name] = {"status": 200}
        except openai.APIError as error:
            refusals[name] = failure(error)
            refusals[name]["code"] = getattr(error, "code", None)
            refusals[name]["param"] = getattr(error, "param", None)
    print(json.dumps({"answers": answers, "json_mode": json_mode, "refusals": refusals}))


if __name__ == "__main__":
    main()
