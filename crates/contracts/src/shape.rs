//! Schemas of the strings the API checks beyond their type, for `#[schemars(schema_with = …)]`.
//!
//! Each pattern says exactly what the matching check accepts, so that the OpenAPI document admits
//! no request the server refuses. Whitespace is Unicode's `White_Space`, which is what Rust's
//! `str::trim` and `char::is_whitespace` use, written out because regex dialects disagree on `\s`.

use schemars::{Schema, SchemaGenerator, json_schema};

/// Unicode's `White_Space` characters, as a regex class body.
pub const WHITE_SPACE: &str =
    "\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/// Whether `text` is empty or only whitespace, the test every "must not be empty" makes.
pub fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// A string with at least one character that is not whitespace.
pub fn non_blank(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": format!("[^{WHITE_SPACE}]") })
}

/// The longest line a bot is given to say word for word (an idle prompt, a goodbye), in characters.
pub const SPOKEN_LINE_MAX: usize = 500;

/// A line for the bot to say: not blank, at most [`SPOKEN_LINE_MAX`] characters.
pub fn spoken_line(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": format!("[^{WHITE_SPACE}]"),
        "maxLength": SPOKEN_LINE_MAX
    })
}

/// One to five [`spoken_line`]s.
pub fn idle_prompts(generator: &mut SchemaGenerator) -> Schema {
    let line = spoken_line(generator);
    json_schema!({ "type": "array", "items": line, "minItems": 1, "maxItems": 5 })
}

/// Up to 50 backchannel words or phrases of 1 to 40 characters, not blank.
pub fn backchannels(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "type": "string", "pattern": format!("[^{WHITE_SPACE}]"), "maxLength": 40 },
        "maxItems": 50
    })
}

/// An email address as users are checked: no whitespace, a local part without `@`, and a domain
/// with a dot.
pub fn email(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": format!("^[^@{WHITE_SPACE}]+@[^{WHITE_SPACE}]*\\.[^{WHITE_SPACE}]*$")
    })
}

/// An http(s) URL with a host named by letters, digits and `._~-` (its last label starting with a
/// letter) or a dotted-quad IPv4 address, a port up to 65535, then a path, query or fragment
/// without spaces or control characters:
/// what [`is_http_url`] accepts, and every such URL the URL parser reads as written.
pub const HTTP_URL: &str = concat!("^https?://", host_port!(), "([/?#][^\\x00-\\x20\\x7f]*)?$");

/// The host and port of an [`HTTP_URL`], as a pattern (a macro, so that `concat!` can use it).
macro_rules! host_port {
    () => {
        "(([A-Za-z0-9_~-]+\\.)*[A-Za-z][A-Za-z0-9_~-]*\\.?|(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3})(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?"
    };
}
use host_port;

/// A web page's origin as an operator writes it: an [`HTTP_URL`]'s scheme, host and port, and
/// at most a `/` after them (what [`is_web_origin`] accepts).
pub const WEB_ORIGIN: &str = concat!("^https?://", host_port!(), "/?$");

/// What a [`WEB_ORIGIN`] is, for error messages.
pub const WEB_ORIGIN_RULE: &str =
    "must be a site's origin: http(s)://host[:port], with no path, query or wildcard";

/// Whether `origin` is a [`WEB_ORIGIN`].
pub fn is_web_origin(origin: &str) -> bool {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or_default();
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    is_http_url(origin) && !rest.contains(['/', '?', '#'])
}

/// The sites a website widget may be used on: 1 to 50 [`WEB_ORIGIN`]s.
pub fn web_origins(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "minItems": 1,
        "maxItems": 50,
        "items": { "type": "string", "pattern": WEB_ORIGIN },
    })
}

/// What an [`HTTP_URL`] is, for error messages.
pub const HTTP_URL_RULE: &str = "must be an http(s) URL whose host is a name (letters, digits, '.', '_', '~', '-'; the last label starting with a letter) or an IPv4 address";

/// Whether `url` is an [`HTTP_URL`].
pub fn is_http_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    if rest.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && (p.len() < 5 || p.parse::<u32>().is_ok_and(|n| n <= 65_535))
    });
    port_ok && (is_dotted_quad(host) || is_host_name(host))
}

fn is_dotted_quad(host: &str) -> bool {
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

fn is_host_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let labels: Vec<&str> = host.split('.').collect();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '~' | '-');
    labels
        .iter()
        .all(|l| !l.is_empty() && l.chars().all(allowed))
        && labels
            .last()
            .is_some_and(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
}

/// Whether `email` has the shape [`email`] describes.
pub fn is_email(email: &str) -> bool {
    !email.contains(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
}

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// A new password: at least [`MIN_PASSWORD_CHARS`] characters.
pub fn password(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "minLength": MIN_PASSWORD_CHARS })
}

/// An optional [`non_blank`].
pub fn optional_non_blank(generator: &mut SchemaGenerator) -> Schema {
    nullable(non_blank(generator))
}

/// An optional [`password`].
pub fn optional_password(generator: &mut SchemaGenerator) -> Schema {
    nullable(password(generator))
}

/// A phone number in JSON or a path: E.164, as [`crate::E164Number`] reads it. (National
/// numbers with a default region are for CSV imports.)
pub fn phone(generator: &mut SchemaGenerator) -> Schema {
    <crate::E164Number as schemars::JsonSchema>::json_schema(generator)
}

/// An optional [`phone`].
pub fn optional_phone(generator: &mut SchemaGenerator) -> Schema {
    nullable(phone(generator))
}

/// Distinct [`phone`] numbers.
pub fn phone_numbers(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "array", "items": phone(generator), "uniqueItems": true })
}

/// The regions (ISO 3166 alpha-2, upper case) whose national numbers the Backend reads: those of
/// libphonenumber's metadata (a test in the Backend checks the two lists agree).
pub const REGIONS: &[&str] = &[
    "AC", "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO",
    "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG",
    "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF", "GG",
    "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GT", "GU", "GW", "GY", "HK", "HN", "HR", "HT",
    "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE",
    "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR",
    "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN",
    "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF",
    "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL",
    "PM", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD",
    "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY",
    "SZ", "TA", "TC", "TD", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW",
    "TZ", "UA", "UG", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "XK",
    "YE", "YT", "ZA", "ZM", "ZW",
];

/// A region national numbers are read in, one of [`REGIONS`].
pub fn region(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "enum": REGIONS })
}

/// An optional [`region`].
pub fn optional_region(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": ["string", "null"], "enum": REGIONS.iter().map(|r| Some(*r)).chain([None]).collect::<Vec<_>>() })
}

/// Whom calls are made for (an operator's own customer), as quotas name it: a letter or digit,
/// then up to 63 letters, digits, `.`, `_` or `-`.
pub const CLIENT_NAME: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

/// What a [`CLIENT_NAME`] is, for error messages.
pub const CLIENT_NAME_RULE: &str =
    "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit";

/// Whether `name` is a [`CLIENT_NAME`].
pub fn is_client_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// An optional [`CLIENT_NAME`].
pub fn optional_client(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": ["string", "null"], "pattern": CLIENT_NAME })
}

/// A bot's declared variable names, as `{{name}}` uses them.
pub fn variable_names(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "array", "items": { "type": "string", "pattern": VARIABLE_NAME } })
}

/// A template variable's name: a letter or `_`, then letters, digits or `_`.
pub const VARIABLE_NAME: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

/// Whether `name` is a [`VARIABLE_NAME`].
pub fn is_variable_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// JSON Schema's type names, as a tool's `parameters` may use them.
pub const SCHEMA_TYPES: &[&str] = &[
    "object", "array", "string", "number", "integer", "boolean", "null",
];

/// A webhook tool's `parameters`: a JSON Schema of type `object` whose `type`s are JSON Schema's,
/// whose `properties` are schemas and whose `required` names listed properties.
pub fn tool_parameters(generator: &mut SchemaGenerator) -> Schema {
    let argument = generator.subschema_for::<ToolArgument>();
    json_schema!({
        "allOf": [argument, { "type": "object", "required": ["type"], "properties": { "type": { "const": "object" } } }]
    })
}

/// One schema inside a tool's `parameters` (schema-only).
#[derive(Debug)]
pub struct ToolArgument;

impl schemars::JsonSchema for ToolArgument {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ToolArgument".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let this = generator.subschema_for::<Self>();
        json_schema!({
            "type": "object",
            "properties": {
                "type": { "type": "string", "enum": SCHEMA_TYPES },
                "properties": { "type": "object", "additionalProperties": this.clone() },
                "required": { "type": "array", "items": { "type": "string" } },
                "items": this
            }
        })
    }
}

/// Provider settings for one slot of a bot (schema-only): the slot's vendors, and a fallback
/// for the same slot.
macro_rules! slot_settings {
    ($name:ident, $vendors:path, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $name;

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(generator: &mut SchemaGenerator) -> Schema {
                let this = generator.subschema_for::<Self>();
                json_schema!({
                    "type": "object",
                    "required": ["provider"],
                    "properties": {
                        "provider": { "type": "string", "enum": $vendors },
                        "model": { "type": ["string", "null"] },
                        "voice": { "type": ["string", "null"], "description": "The voice, for text-to-speech" },
                        "options": { "type": "object", "additionalProperties": true, "description": "Vendor options; base_url only where the platform allows it" },
                        "fallback": { "anyOf": [this, { "type": "null" }], "description": "Used mid-call when this provider fails" }
                    }
                })
            }
        }
    };
}

slot_settings!(
    SttSettings,
    crate::runtime_config::STT_PROVIDERS,
    "Speech-to-text settings."
);
slot_settings!(
    LlmSettings,
    crate::runtime_config::LLM_PROVIDERS,
    "LLM settings."
);
slot_settings!(
    TtsSettings,
    crate::runtime_config::TTS_PROVIDERS,
    "Text-to-speech settings."
);

fn nullable(mut schema: Schema) -> Schema {
    schema.insert("type".into(), serde_json::json!(["string", "null"]));
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_white_space_class_lists_exactly_the_characters_rust_trims() {
        let listed = |c: char| {
            let code = c as u32;
            matches!(code, 0x09..=0x0d | 0x20 | 0x85 | 0xa0 | 0x1680 | 0x2000..=0x200a)
                || matches!(code, 0x2028 | 0x2029 | 0x202f | 0x205f | 0x3000)
        };
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            assert_eq!(c.is_whitespace(), listed(c), "U+{:04X}", c as u32);
        }
        assert!(WHITE_SPACE.contains("\\u3000"));
    }

    #[test]
    fn an_http_url_names_its_host_by_letters_or_a_dotted_quad() {
        for good in [
            "https://crm.example.com/hook",
            "http://10.0.0.5:8080/admin",
            "http://localhost:65535",
            "http://a.b_c~d-e.Ex./?q#f",
            "http://169.254.169.254/latest/meta-data",
        ] {
            assert!(is_http_url(good), "{good}");
        }
        for bad in [
            "ftp://x.com",
            "http://",
            "http://x.pc*",
            "http://1.2.3.999",
            "http://1.2.3",
            "http://a.123",
            "http://01.2.3.4",
            "http://x.com:65536",
            "http://x.com:",
            "http://[::1]:9/x",
            "http://a..b",
            "http://a.com/x y",
            "http://a.com/x\n",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }

    #[test]
    fn a_web_origin_is_an_http_urls_scheme_host_and_port_alone() {
        for good in [
            "https://shop.example.com",
            "https://shop.example.com/",
            "http://127.0.0.1:8080",
        ] {
            assert!(is_web_origin(good), "{good}");
        }
        for bad in [
            "",
            "shop.example.com",
            "https://shop.example.com/page",
            "https://shop.example.com//",
            "https://shop.example.com?x",
            "https://shop.example.com/#x",
            "https://*.example.com",
        ] {
            assert!(!is_web_origin(bad), "{bad}");
        }
        assert!(WEB_ORIGIN.ends_with("[0-9]{1,4}))?/?$"));
    }

    #[test]
    fn a_client_name_is_a_short_label() {
        for good in ["acme", "Acme-2.eu_west", &"a".repeat(64)] {
            assert!(is_client_name(good), "{good}");
        }
        for bad in ["", "-acme", "acme corp", "acmé", &"a".repeat(65)] {
            assert!(!is_client_name(bad), "{bad}");
        }
    }

    #[test]
    fn an_email_needs_a_local_part_and_a_dotted_domain_and_no_whitespace() {
        assert!(is_email("a@b.c"));
        assert!(!is_email("@b.c"));
        assert!(!is_email("a@bc"));
        assert!(!is_email(" a@b.c"));
        assert!(is_blank(" \u{3000}\n"));
        assert!(!is_blank(" x "));
    }
}
