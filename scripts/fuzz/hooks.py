"""Schemathesis hooks for vox's API: the rules JSON Schema cannot state, taught to the generator.

The OpenAPI document states every rule of a request that JSON Schema can express (types, enums,
patterns, ranges, lengths, required fields). A few rules relate two values of one request, which
JSON Schema cannot say; each operation's description states them in words, and these hooks keep
the generator's *valid* cases within them, mirroring the server's checks and nothing more:

- a bot's spec: tool names unique (one `search_knowledge`), analysis field names unique, an
  `enum` analysis field lists options, a tool's `required` names its own properties, `{{names}}`
  in the prompt and first message are declared variables, a flow's steps lead to steps that exist,
  and each voice chain has a provider the deployment runs (the fuzzed `vox bridge` runs no local
  service, FLEET_LOCAL_PROVIDERS; services/bridge/src/bot_rules.rs, crates/contracts/src/
  local_services.rs);
- a report's window: `until` after `since`, at most 400 days later (crates/store/src/validate.rs);
- a campaign's `ends_at` after its `starts_at` (services/bridge/src/routes/campaigns.rs);
- a batch of contacts names each number once (crates/store/src/validate.rs);
- a runtime config asked by `call_id` alone, or by `bot_id` and/or `to`
  (services/bridge/src/routes/fleet.rs);
- a call's result for the call its URL names, ending after it starts (the same file);
- a CSV import's header names the column the query says holds the phone number
  (services/bridge/src/import.rs);
- a Telnyx account's webhook key is an Ed25519 public key: 32 bytes that are a point of the curve,
  which a pattern cannot state (services/bridge/src/routes/carriers.rs);
- a Vonage account's secret is an RSA private key in PEM, which a pattern cannot state either: a
  generated one that looks like a PEM key is replaced by the test application's key (the same
  file).
"""

import base64
import binascii
import pathlib
import re
from datetime import datetime, timedelta

import schemathesis

BUILTIN_VARIABLES = {"phone", "call_id", "campaign_id", "contact_id"}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REPORTS = ("/api/v1/reports/calls", "/api/v1/reports/amd")
MAX_REPORT_DAYS = 400
CAMPAIGNS = ("/api/v1/campaigns", "/api/v1/campaigns/{id}")
IMPORTS = ("/api/v1/campaigns/{id}/contacts/import", "/api/v1/dnc/import")


def _template_ok(text, declared):
    """The server's `template::variables`: each `{{ name }}` closed, well formed and declared."""
    rest = text
    while "{{" in rest:
        after = rest[rest.index("{{") + 2 :]
        if "}}" not in after:
            return False
        name = after[: after.index("}}")].strip(" \t\n\r\x0b\x0c\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
        if not NAME.match(name) or name not in declared:
            return False
        rest = after[after.index("}}") + 2 :]
    return True


def _required_ok(schema):
    """A tool schema's `required` names its properties, at every level."""
    if not isinstance(schema, dict):
        return True
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = schema.get("required", [])
    if isinstance(required, list) and any(not isinstance(n, str) or n not in properties for n in required):
        return False
    return all(_required_ok(p) for p in properties.values()) and _required_ok(schema.get("items"))


# Providers that need a service of the deployment's own, unless they name their own server.
LOCAL_ALWAYS = {"piper"}
LOCAL_WITHOUT_BASE_URL = {"llama", "whisper"}


def _chain_runs(settings):
    """`unrunnable_chain` on a deployment that runs no local service: some link needs none."""
    while isinstance(settings, dict):
        provider = settings.get("provider")
        if not isinstance(provider, str):
            return True  # not a provider name: the schema refuses it, not this rule
        options = settings.get("options") if isinstance(settings.get("options"), dict) else {}
        local = provider in LOCAL_ALWAYS or (provider in LOCAL_WITHOUT_BASE_URL and "base_url" not in options)
        if not local:
            return True
        settings = settings.get("fallback")
    return False


def _spec_ok(spec):
    if not isinstance(spec, dict):
        return True
    slots = ["stt", "tts"] + (["llm"] if spec.get("flow") is None else [])
    if any(isinstance(spec.get(slot), dict) and not _chain_runs(spec[slot]) for slot in slots):
        return False
    variables = spec.get("variables") or []
    declared = BUILTIN_VARIABLES | {v for v in variables if isinstance(v, str)} if isinstance(variables, list) else BUILTIN_VARIABLES
    for key in ("system_prompt", "first_message"):
        if isinstance(spec.get(key), str) and not _template_ok(spec[key], declared):
            return False
    names = set()
    for tool in spec.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        name = tool.get("name") if tool.get("type") == "webhook" else None
        if tool.get("type") == "search_knowledge":
            name = "search_knowledge"
        if isinstance(name, str):
            if name in names:
                return False
            names.add(name)
        if tool.get("type") == "webhook" and not _required_ok(tool.get("parameters")):
            return False
    fields = set()
    for field in spec.get("analysis") or []:
        if not isinstance(field, dict):
            continue
        name = field.get("name")
        if isinstance(name, str):
            if name in fields:
                return False
            fields.add(name)
        if field.get("type") == "enum" and not field.get("options"):
            return False
    flow = spec.get("flow")
    if isinstance(flow, dict):
        steps = flow.get("steps") if isinstance(flow.get("steps"), dict) else {}
        if not isinstance(flow.get("start"), str) or flow.get("start") not in steps:
            return False
        for step in steps.values():
            if not isinstance(step, dict):
                continue
            targets = [step.get("next")] if step.get("type") in ("say", "set_field") else []
            if step.get("type") == "ask":
                targets = [b.get("next") for b in step.get("branches") or [] if isinstance(b, dict)]
                targets.append(step.get("otherwise"))
            if any(not isinstance(t, str) or t not in steps for t in targets):
                return False
    return True


VONAGE_PEM = re.compile(r"^\s*-----BEGIN (RSA )?PRIVATE KEY-----")
VONAGE_TEST_KEY = (
    pathlib.Path(__file__).resolve().parents[2]
    / "crates/telephony/src/vonage/testing/private_key.pem"
).read_text()
CARRIER_ACCOUNTS = ("/api/v1/carrier-accounts", "/api/v1/carrier-accounts/{id}")
# Ed25519's field prime and curve constant (RFC 8032, section 5.1).
ED_P = 2**255 - 19
ED_D = (-121665 * pow(121666, ED_P - 2, ED_P)) % ED_P


def _ed25519_point(text):
    """Whether 32 base64 bytes decode to a point of the curve as ed25519-dalek decodes a public
    key (RFC 8032 5.1.3, with y read modulo p and any sign of x = 0 taken)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return True  # not base64 at all: the server's refusal is the expected one
    if len(raw) != 32:
        return True
    y = (int.from_bytes(raw, "little") & ((1 << 255) - 1)) % ED_P
    u, v = (y * y - 1) % ED_P, (ED_D * y * y + 1) % ED_P
    # x = sqrt(u / v) exists iff (u / v) is a square: Euler's criterion.
    ratio = u * pow(v, ED_P - 2, ED_P) % ED_P
    return ratio == 0 or pow(ratio, (ED_P - 1) // 2, ED_P) == 1


@schemathesis.hook("filter_case")
def within_cross_field_rules(context, case):
    """Leaves out a bot whose spec breaks a rule relating two of its values, and a batch of
    contacts naming one number twice."""
    if context.operation.path in ("/api/v1/bots", "/api/v1/bots/{id}") and isinstance(case.body, dict):
        return _spec_ok(case.body.get("spec"))
    if context.operation.path == "/api/v1/campaigns/{id}/contacts" and isinstance(case.body, list):
        phones = [c.get("phone") for c in case.body if isinstance(c, dict) and isinstance(c.get("phone"), str)]
        return len(phones) == len(set(phones))
    if context.operation.path in CARRIER_ACCOUNTS and isinstance(case.body, dict):
        key = case.body.get("webhook_key")
        return not isinstance(key, str) or _ed25519_point(key)
    return True


def _instant(text):
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


@schemathesis.hook("map_case")
def within_relations(context, case):
    """A report's window from 1 hour to 400 days, a campaign ending after it starts, an import's
    header naming its phone column."""
    path = context.operation.path
    query = case.query if isinstance(case.query, dict) else None
    if path in REPORTS and query is not None:
        start, end = _instant(query.get("since")), _instant(query.get("until"))
        if start is not None and end is not None:
            hours = int(abs((end - start).total_seconds()) // 3600) % (MAX_REPORT_DAYS * 24) + 1
            try:
                query["until"] = (start + timedelta(hours=hours)).isoformat()
            except OverflowError:
                query["since"] = (start - timedelta(hours=hours)).isoformat()
                query["until"] = start.isoformat()
    if path in CAMPAIGNS and isinstance(case.body, dict):
        start, end = _instant(case.body.get("starts_at")), _instant(case.body.get("ends_at"))
        if start is not None and end is not None and end <= start:
            case.body["starts_at"], case.body["ends_at"] = case.body["ends_at"], case.body["starts_at"]
            if end == start:
                del case.body["ends_at"]
    if path == "/api/v1/config" and query is not None:
        if "call_id" in query:
            query.pop("bot_id", None)
            query.pop("to", None)
        elif "bot_id" not in query and "to" not in query:
            query["call_id"] = 1
    if path in CARRIER_ACCOUNTS and isinstance(case.body, dict) and case.body.get("carrier") == "vonage":
        secret = case.body.get("secret")
        if isinstance(secret, str) and VONAGE_PEM.match(secret):
            case.body["secret"] = VONAGE_TEST_KEY
    if path in IMPORTS and isinstance(case.body, str):
        column = (query or {}).get("phone_column", "phone")
        if isinstance(column, str) and "," not in column and "\n" not in column and '"' not in column:
            case.body = f"{column}\n{case.body}"
    return case


@schemathesis.hook("before_call")
def result_for_its_call(context, case, kwargs):
    """A call's result names the call its URL names, and ends after it starts (set as it is sent,
    once the URL's id is final)."""
    if context.operation.path != "/api/v1/calls/{id}/result" or not isinstance(case.body, dict):
        return
    try:
        case.body["call_id"] = int((case.path_parameters or {}).get("id"))
    except (TypeError, ValueError):
        pass  # a negative case's id: left as generated
    timings = case.body.get("timings")
    if isinstance(timings, dict):
        start, end = _instant(timings.get("started_at")), _instant(timings.get("ended_at"))
        if start is not None and end is not None and end < start:
            timings["started_at"], timings["ended_at"] = timings["ended_at"], timings["started_at"]
