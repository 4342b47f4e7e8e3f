//! Checks a bot spec before it is saved.
//!
//! Known providers that this deployment can run, sound tool schemas, declared template variables,
//! a flow whose steps all exist.

use crate::error::{ApiError, ApiResult};
use crate::template;
use contracts::local_services::unrunnable_chain;
use contracts::runtime_config::{
    AnalysisFieldKind, BUILTIN_VARIABLES, BotSpec, FlowStep, KEYED_PROVIDERS, LLM_PROVIDERS,
    ProviderSettings, STT_PROVIDERS, TTS_PROVIDERS, ToolSpec,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::collections::HashSet;

use contracts::shape::SCHEMA_TYPES;

/// The platform's settings that bound a spec: where keyed vendors may be sent
/// (`PROVIDER_BASE_URLS`) and which private networks tools may reach (`OUTBOUND_ALLOWED_NETWORKS`).
pub fn check(spec: &BotSpec, config: &crate::BridgeConfig) -> ApiResult<()> {
    let allowed = &config.provider_base_urls;
    if spec.language.trim().is_empty() {
        return Err(ApiError::invalid(
            "spec.language",
            "must be a language tag such as en-US",
        ));
    }
    let outbound = &config.outbound_allowed;
    provider("spec.stt", &spec.stt, STT_PROVIDERS, allowed, outbound)?;
    provider("spec.llm", &spec.llm, LLM_PROVIDERS, allowed, outbound)?;
    provider("spec.tts", &spec.tts, TTS_PROVIDERS, allowed, outbound)?;
    // A chain the deployment cannot run would fail every call at its start: refuse it now. A
    // flow bot has no LLM chain.
    let mut chains = vec![("spec.stt", &spec.stt), ("spec.tts", &spec.tts)];
    if spec.flow.is_none() {
        chains.insert(1, ("spec.llm", &spec.llm));
    }
    for (field, settings) in chains {
        if let Some(why) = unrunnable_chain(settings, &config.local_services) {
            return Err(ApiError::invalid(
                format!("{field}.provider"),
                format!("{} {why}", settings.provider),
            ));
        }
    }
    templates(spec)?;
    tools(spec, &config.outbound_allowed)?;
    analysis(spec)?;
    if !(10..=4 * 3600).contains(&spec.limits.max_duration_secs) {
        return Err(ApiError::invalid(
            "spec.limits.max_duration_secs",
            "must be between 10 and 14400",
        ));
    }
    if !(1..=600).contains(&spec.limits.silence_timeout_secs) {
        return Err(ApiError::invalid(
            "spec.limits.silence_timeout_secs",
            "must be between 1 and 600",
        ));
    }
    turn(&spec.turn)?;
    idle(spec)?;
    interruptions(&spec.interruptions)?;
    // Checked whether or not the mode is on, as the schema says.
    within(
        "ivr.menu_quiet_secs",
        spec.ivr.menu_quiet_secs,
        0.5,
        10.0,
        " seconds",
    )?;
    flow(spec)
}

fn idle(spec: &BotSpec) -> ApiResult<()> {
    // Checked whether or not prompts are on, as the schema says: a bot turned on later keeps them.
    let idle = &spec.idle;
    if idle.after_secs > 600 {
        return Err(ApiError::invalid(
            "spec.idle.after_secs",
            "must be 0 (no prompts) to 600 seconds",
        ));
    }
    if !(1..=5).contains(&idle.max_prompts) {
        return Err(ApiError::invalid(
            "spec.idle.max_prompts",
            "must be between 1 and 5",
        ));
    }
    if !(1..=5).contains(&idle.prompts.len()) {
        return Err(ApiError::invalid(
            "spec.idle.prompts",
            "must hold 1 to 5 lines to say",
        ));
    }
    for (i, prompt) in idle.prompts.iter().enumerate() {
        spoken_line(&format!("spec.idle.prompts[{i}]"), prompt)?;
    }
    spoken_line("spec.idle.goodbye", &idle.goodbye)
}

/// A line said word for word: what [`contracts::shape::spoken_line`] admits.
fn spoken_line(field: &str, line: &str) -> ApiResult<()> {
    let max = contracts::shape::SPOKEN_LINE_MAX;
    if contracts::shape::is_blank(line) || line.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("must be between 1 and {max} characters, not blank"),
        ));
    }
    Ok(())
}

/// `value` of `spec.<field>` is within `low..=high`.
fn within(field: &str, value: f32, low: f32, high: f32, unit: &str) -> ApiResult<()> {
    if (low..=high).contains(&value) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            format!("spec.{field}"),
            format!("must be between {low} and {high}{unit}, not {value}"),
        ))
    }
}

fn interruptions(settings: &contracts::runtime_config::InterruptionSettings) -> ApiResult<()> {
    let seconds = " seconds";
    within(
        "interruptions.min_duration_secs",
        settings.min_duration_secs,
        0.0,
        3.0,
        seconds,
    )?;
    within(
        "interruptions.resume_after_secs",
        settings.resume_after_secs,
        0.3,
        5.0,
        seconds,
    )?;
    if settings.min_words > 10 {
        return Err(ApiError::invalid(
            "spec.interruptions.min_words",
            "must be between 0 and 10",
        ));
    }
    if settings.backchannels.len() > 50 {
        return Err(ApiError::invalid(
            "spec.interruptions.backchannels",
            "must hold at most 50 words or phrases",
        ));
    }
    for (i, phrase) in settings.backchannels.iter().enumerate() {
        if contracts::shape::is_blank(phrase) || phrase.chars().count() > 40 {
            return Err(ApiError::invalid(
                format!("spec.interruptions.backchannels[{i}]"),
                "must be between 1 and 40 characters, not blank",
            ));
        }
    }
    Ok(())
}

fn turn(turn: &contracts::runtime_config::TurnSettings) -> ApiResult<()> {
    let within = |field: &str, value: f32, low: f32, high: f32, unit: &str| {
        within(&format!("turn.{field}"), value, low, high, unit)
    };
    if let Some(stop) = turn.stop_secs {
        within("stop_secs", stop, 0.1, 3.0, " seconds")?;
    }
    within("threshold", turn.threshold, 0.05, 0.95, "")?;
    within(
        "incomplete_wait_secs",
        turn.incomplete_wait_secs,
        0.0,
        10.0,
        " seconds",
    )
}

fn provider(
    field: &str,
    settings: &ProviderSettings,
    known: &[&str],
    allowed: &BTreeMap<String, String>,
    outbound: &egress::Allowed,
) -> ApiResult<()> {
    let mut current = Some(settings);
    let mut path = field.to_owned();
    while let Some(settings) = current {
        let name = settings.provider.as_str();
        if !known.contains(&name) {
            return Err(ApiError::invalid(
                format!("{path}.provider"),
                format!(
                    "unknown provider {:?}; known: {}",
                    settings.provider,
                    known.join(", ")
                ),
            ));
        }
        // A keyed vendor's URL is the platform's to choose: its key would follow it (H1).
        let base = settings.options.get("base_url").and_then(Value::as_str);
        let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
        if let Some(base) = base
            && KEYED_PROVIDERS.contains(&name)
            && !allowed.get(name).is_some_and(|ok| same(ok, base))
        {
            return Err(ApiError::policy(
                format!("{path}.options.base_url"),
                format!(
                    "{name} is reached with the platform's API key, which goes only to {name}'s \
                     own URL or the one the platform configured (PROVIDER_BASE_URLS); {base} is \
                     neither. Leave base_url out, or ask an admin to configure it."
                ),
            ));
        }
        // A keyless vendor's own server is an operator's URL: a private address only where
        // OUTBOUND_ALLOWED_NETWORKS allows it (the worker checks names again as it resolves them).
        if let Some(base) = base
            && !allowed.get(name).is_some_and(|ok| same(ok, base))
            && !contracts::runtime_config::is_local_default(name, base)
            && let Err(error) = egress::check_saved_url(base, outbound)
        {
            return Err(ApiError::egress(format!("{path}.options.base_url"), error));
        }
        path.push_str(".fallback");
        current = settings.fallback.as_deref();
    }
    Ok(())
}

fn templates(spec: &BotSpec) -> ApiResult<()> {
    let mut declared: HashSet<&str> = BUILTIN_VARIABLES.iter().copied().collect();
    for name in &spec.variables {
        if !contracts::shape::is_variable_name(name) {
            return Err(ApiError::invalid(
                "spec.variables",
                format!("{name:?} is not a variable name"),
            ));
        }
        declared.insert(name);
    }
    let texts = [
        ("spec.system_prompt", Some(&spec.system_prompt)),
        ("spec.first_message", spec.first_message.as_ref()),
    ];
    for (field, text) in texts {
        let Some(text) = text else { continue };
        let used =
            template::variables(text).map_err(|message| ApiError::invalid(field, message))?;
        // `crm.<field>` is whatever the CRM lookup answers: it cannot be declared ahead.
        if let Some(unknown) = used
            .iter()
            .find(|name| !declared.contains(name.as_str()) && !name.starts_with("crm."))
        {
            return Err(ApiError::invalid(
                field,
                format!(
                    "{{{{{unknown}}}}} is not a declared variable; add it to spec.variables, use one of {} or a CRM lookup's crm.<field>",
                    BUILTIN_VARIABLES.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn tools(spec: &BotSpec, outbound: &egress::Allowed) -> ApiResult<()> {
    let mut names = HashSet::new();
    for (index, tool) in spec.tools.iter().enumerate() {
        let field = format!("spec.tools[{index}]");
        match tool {
            ToolSpec::Webhook {
                name,
                url,
                parameters,
                timeout_ms,
                ..
            } => {
                let valid_name =
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid_name {
                    return Err(ApiError::invalid(
                        format!("{field}.name"),
                        "use letters, digits and '_'",
                    ));
                }
                if !names.insert(name.as_str()) {
                    return Err(ApiError::invalid(
                        format!("{field}.name"),
                        format!("{name} is used twice"),
                    ));
                }
                if !contracts::shape::is_http_url(url) {
                    return Err(ApiError::invalid(
                        format!("{field}.url"),
                        contracts::shape::HTTP_URL_RULE,
                    ));
                }
                // An address (or localhost) that is private is refused now; a name is checked
                // again each time the worker resolves it (H2).
                if let Err(error) = egress::check_saved_url(url, outbound) {
                    return Err(ApiError::egress(format!("{field}.url"), error));
                }
                if !(100..=30_000).contains(timeout_ms) {
                    return Err(ApiError::invalid(
                        format!("{field}.timeout_ms"),
                        "must be between 100 and 30000",
                    ));
                }
                json_schema(&format!("{field}.parameters"), parameters, true)?;
            }
            ToolSpec::Transfer { destination } => {
                let ok = contracts::E164Number::parse(destination).is_ok()
                    || destination.starts_with("sip:");
                if !ok {
                    return Err(ApiError::invalid(
                        format!("{field}.destination"),
                        "must be an E.164 number or a sip: URI",
                    ));
                }
            }
            ToolSpec::SetDisposition { allowed } if allowed.is_empty() => {
                return Err(ApiError::invalid(
                    format!("{field}.allowed"),
                    "list at least one disposition",
                ));
            }
            ToolSpec::SearchKnowledge {
                knowledge_base_ids,
                top_k,
                timeout_ms,
                ..
            } => {
                // One search a bot: the model sees it as the tool `search_knowledge`.
                if !names.insert("search_knowledge") {
                    return Err(ApiError::invalid(
                        format!("{field}.type"),
                        "search_knowledge is used twice (one knowledge search per bot; it may name several bases)",
                    ));
                }
                if knowledge_base_ids.is_empty() {
                    return Err(ApiError::invalid(
                        format!("{field}.knowledge_base_ids"),
                        "name at least one knowledge base",
                    ));
                }
                if !(1..=10).contains(top_k) {
                    return Err(ApiError::invalid(
                        format!("{field}.top_k"),
                        "must be between 1 and 10",
                    ));
                }
                if !(100..=10_000).contains(timeout_ms) {
                    return Err(ApiError::invalid(
                        format!("{field}.timeout_ms"),
                        "must be between 100 and 10000",
                    ));
                }
            }
            ToolSpec::SetDisposition { .. } | ToolSpec::EndCall | ToolSpec::SendDigits => {}
        }
    }
    Ok(())
}

/// A structural check of a JSON Schema: known types, object properties that are schemas,
/// `required` naming existing properties. `root` schemas must describe an object.
fn json_schema(field: &str, schema: &Value, root: bool) -> ApiResult<()> {
    let object = schema
        .as_object()
        .ok_or_else(|| ApiError::invalid(field, "a JSON Schema must be an object"))?;
    let kind = object.get("type").and_then(Value::as_str);
    if let Some(kind) = object.get("type")
        && !kind.as_str().is_some_and(|k| SCHEMA_TYPES.contains(&k))
    {
        return Err(ApiError::invalid(
            format!("{field}.type"),
            format!("must be one of {}", SCHEMA_TYPES.join(", ")),
        ));
    }
    if root && kind != Some("object") {
        return Err(ApiError::invalid(
            format!("{field}.type"),
            "tool arguments must be a schema of type object",
        ));
    }
    let empty = serde_json::Map::new();
    let properties = match object.get("properties") {
        Some(properties) => properties.as_object().ok_or_else(|| {
            ApiError::invalid(
                format!("{field}.properties"),
                "must be an object of schemas",
            )
        })?,
        None => &empty,
    };
    for (name, property) in properties {
        json_schema(&format!("{field}.properties.{name}"), property, false)?;
    }
    if let Some(required) = object.get("required") {
        let required = required.as_array().ok_or_else(|| {
            ApiError::invalid(
                format!("{field}.required"),
                "must be a list of property names",
            )
        })?;
        for name in required {
            let Some(name) = name.as_str() else {
                return Err(ApiError::invalid(
                    format!("{field}.required"),
                    "must be a list of property names",
                ));
            };
            if !properties.contains_key(name) {
                return Err(ApiError::invalid(
                    format!("{field}.required"),
                    format!("{name:?} is not a property"),
                ));
            }
        }
    }
    if let Some(items) = object.get("items") {
        json_schema(&format!("{field}.items"), items, false)?;
    }
    Ok(())
}

fn analysis(spec: &BotSpec) -> ApiResult<()> {
    let mut names = HashSet::new();
    for (index, field) in spec.analysis.iter().enumerate() {
        let path = format!("spec.analysis[{index}]");
        if field.name.trim().is_empty() || !names.insert(field.name.as_str()) {
            return Err(ApiError::invalid(
                format!("{path}.name"),
                "must be a unique, non-empty name",
            ));
        }
        if field.kind == AnalysisFieldKind::Enum && field.options.is_empty() {
            return Err(ApiError::invalid(
                format!("{path}.options"),
                "an enum field lists its options",
            ));
        }
    }
    Ok(())
}

fn flow(spec: &BotSpec) -> ApiResult<()> {
    let Some(flow) = &spec.flow else {
        return Ok(());
    };
    let exists = |name: &str| flow.steps.contains_key(name);
    if !exists(&flow.start) {
        return Err(ApiError::invalid(
            "spec.flow.start",
            format!("no step is named {:?}", flow.start),
        ));
    }
    for (name, step) in &flow.steps {
        let field = format!("spec.flow.steps.{name}");
        let targets: Vec<&String> = match step {
            FlowStep::Say { next, .. }
            | FlowStep::SetField { next, .. }
            | FlowStep::SendDigits { next, .. } => vec![next],
            FlowStep::Ask {
                branches,
                otherwise,
                ..
            } => branches
                .iter()
                .map(|b| &b.next)
                .chain(std::iter::once(otherwise))
                .collect(),
            FlowStep::End { .. } | FlowStep::Transfer { .. } => vec![],
        };
        if let FlowStep::SendDigits { digits, .. } = step
            && !contracts::runtime_config::keypad_keys(digits)
        {
            return Err(ApiError::invalid(
                format!("{field}.digits"),
                "must be 1 to 32 keys: 0-9, *, # and A-D",
            ));
        }
        if let FlowStep::Transfer { destination, .. } = step
            && let Err(error) = contracts::E164Number::parse(destination)
        {
            return Err(ApiError::invalid(
                format!("{field}.destination"),
                error.to_string(),
            ));
        }
        if let Some(missing) = targets.into_iter().find(|target| !exists(target)) {
            return Err(ApiError::invalid(
                field,
                format!("goes to {missing:?}, which is not a step"),
            ));
        }
    }
    Ok(())
}
