"""The demo campaign through the compose file's containers: an admin made in the Backend's
container, a scripted bot, a campaign of simulated people (the dialler's PSTN simulator), and
calls that end completed with their transcript and a recording in the S3 store. Progress is a
line every few seconds; the wait is bounded. Exit 1 says what was missing."""

import argparse
import json
import subprocess
import sys
import time
import urllib.request

EMAIL = "admin@compose.test"
PASSWORD = "compose-admin-password"
# Most of the simulator's people answer here (tests/containers/population.json).
CONTACTS = 8
WANTED = 3
DEADLINE_S = 240

BOT = {
    "name": "Compose demo line",
    "spec": {
        "language": "en-US",
        "system_prompt": "A scripted reminder line.",
        "stt": {"provider": "whisper"},
        "llm": {"provider": "openai"},
        "tts": {"provider": "espeak"},
        "flow": {
            "start": "hello",
            "steps": {
                "hello": {
                    "type": "ask",
                    "prompt": "Hello, this is the dental clinic. Would you like to book your check-up?",
                    "field": "request",
                    "branches": [{"keywords": ["yes", "book"], "dtmf": "1", "next": "booked"}],
                    "otherwise": "later",
                },
                "booked": {"type": "end", "text": "Lovely, see you on Tuesday. Goodbye.", "disposition": "booked"},
                "later": {"type": "end", "text": "We will call again. Goodbye.", "disposition": "not_now"},
            },
        },
    },
}


def call(base, method, path, body=None, token=None):
    request = urllib.request.Request(base + path, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + token)
    data = None if body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(request, data, timeout=30) as answer:
            return json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        sys.exit(f"{method} {path}: {error.code} {error.read().decode()[:300]}")


def judge(base, token, call_id, greeting, goodbyes):
    """What is wrong with a completed call, or None: its transcript must be the bot's words, ending
    on a goodbye, and its recording in the S3 store. A caller who gives up on the bot (the
    simulator's people hang up after 30 s) ends it before the goodbye: that call is reported and
    another is waited for, so a slow turn on a loaded machine shows as such; any other fault ends
    the test."""
    detail = call(base, "GET", f"/api/v1/calls/{call_id}", token=token)
    result = detail.get("result") or {}
    said = [line["text"] for line in result.get("transcript", []) if line.get("speaker") == "assistant"]
    # What the caller heard: a caller who speaks over the greeting cuts it short (or off), so
    # each line is the start of the greeting or a goodbye, and the call ends on a goodbye.
    ours = all(text in goodbyes or greeting.startswith(text.rstrip(" ,.?")) for text in said)
    if not said or not ours:
        return f"has a transcript that is not the bot's: {said}"
    if said[-1] not in goodbyes:
        return f"ended ({detail.get('outcome')}) before the bot's goodbye: {said}"
    uri = (result.get("recording") or {}).get("uri", "")
    if not uri.startswith("s3://"):
        return f"has no recording in the S3 store: {uri!r}"
    call(base, "GET", f"/api/v1/calls/{call_id}/recording/link", token=token)
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", required=True)
    parser.add_argument("--project", required=True)
    args = parser.parse_args()
    base = args.backend
    # The Backend answers once its health check passes (the database and Redis reached).
    for _ in range(60):
        try:
            with urllib.request.urlopen(base + "/health", timeout=5) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        time.sleep(1)
    else:
        sys.exit("the Backend's /health did not answer 200 within 60 s")
    made = subprocess.run(
        ["podman", "exec", "-i", f"{args.project}_voxbridge_1", "vox", "admin", "create-user",
         "--email", EMAIL, "--password-stdin"],
        input=PASSWORD + "\n", capture_output=True, text=True)
    if made.returncode != 0:
        sys.exit(f"vox admin create-user in the Backend's container failed: {made.stderr}")
    token = call(base, "POST", "/api/v1/auth/login", {"email": EMAIL, "password": PASSWORD})["access_token"]
    bot = call(base, "POST", "/api/v1/bots", BOT, token)
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    campaign = call(base, "POST", "/api/v1/campaigns", {
        "name": "Compose demo", "bot_id": bot["id"], "max_attempts": 1, "concurrency_cap": 4,
        "calling_windows": [{"days": every_day, "start": "00:00:00", "end": "23:59:59"}],
    }, token)
    contacts = [{"phone": "+1415555%04d" % (200 + i), "timezone": "Etc/UTC"} for i in range(CONTACTS)]
    call(base, "POST", f"/api/v1/campaigns/{campaign['id']}/contacts", contacts, token)
    call(base, "POST", f"/api/v1/campaigns/{campaign['id']}/start", {}, token)
    started = time.monotonic()
    greeting = BOT["spec"]["flow"]["steps"]["hello"]["prompt"]
    goodbyes = [step.get("text") for step in BOT["spec"]["flow"]["steps"].values() if step["type"] == "end"]
    judged = {}
    while True:
        calls = call(base, "GET", f"/api/v1/calls?campaign_id={campaign['id']}&limit=100", token=token)["items"]
        states = {}
        for c in calls:
            states[c["state"]] = states.get(c["state"], 0) + 1
        completed = [c for c in calls if c["state"] == "completed"]
        for summary in completed:
            if summary["id"] not in judged:
                judged[summary["id"]] = judge(base, token, summary["id"], greeting, goodbyes)
                fault = judged[summary["id"]]
                if fault and not fault.startswith("ended"):
                    sys.exit(f"call {summary['id']} {fault}")
                if fault:
                    print(f"    call {summary['id']} {fault}; waiting for another", flush=True)
        good = [c for c in completed if not judged[c["id"]]]
        elapsed = time.monotonic() - started
        print(f"    demo campaign after {elapsed:.0f} s: {json.dumps(states, sort_keys=True)}", flush=True)
        if len(good) >= WANTED:
            break
        live = [c for c in calls if c["state"] not in ("completed", "failed", "busy", "no_answer", "machine", "canceled", "abandoned")]
        if len(calls) >= CONTACTS and not live:
            sys.exit(f"every contact was called and only {len(good)} calls completed with the bot's words and a recording (wanted {WANTED})")
        if elapsed > DEADLINE_S:
            outcomes = sorted({str(c.get("outcome")) for c in calls})
            sys.exit(f"only {len(good)} of the wanted {WANTED} calls completed with the bot's words and a recording in {DEADLINE_S} s (outcomes: {outcomes})")
        time.sleep(5)
    completed = good
    # The callers say "Yes, I would like to book…": heard by the STT sidecar, the flow books.
    dispositions = [c.get("disposition") for c in completed]
    if "booked" not in dispositions:
        sys.exit(f"no completed call was booked: the STT sidecar heard nobody (dispositions: {dispositions})")
    print(f"    {len(completed)} demo calls completed through the containers, with transcripts and recordings in S3")


if __name__ == "__main__":
    main()
