//! `{{variable}}` templates in prompts and first messages.
//!
//! Finding the names, and rendering them from a contact.

use serde_json::{Map, Value};

/// The variable names a template uses, in order of first use; `Err` names a malformed placeholder.
pub fn variables(template: &str) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "a '{{' is never closed with '}}'".to_owned())?;
        let name = after[..end].trim();
        let identifier = |name: &str| {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        };
        // `crm.<field>`: a field of the CRM lookup's answer (crm_lookup.rs).
        if !identifier(name) && !name.strip_prefix("crm.").is_some_and(identifier) {
            return Err(format!(
                "{{{{{name}}}}} is not a variable name (letters, digits, '_'; crm.<field> for the CRM lookup's)"
            ));
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        rest = &after[end + 2..];
    }
    Ok(names)
}

/// Replaces each `{{name}}` with the variable's text (strings as they are, other JSON as JSON);
/// a variable the contact lacks renders as nothing.
pub fn render(template: &str, values: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match values.get(after[..end].trim()) {
            Some(Value::String(text)) => out.push_str(text),
            Some(Value::Null) | None => {}
            Some(other) => out.push_str(&other.to_string()),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variables_are_found_once_each_in_order() {
        assert_eq!(
            variables("Hi {{name}}, {{ slot }} for {{name}}").unwrap(),
            vec!["name", "slot"]
        );
        assert!(variables("Hi {{name").is_err());
        assert!(variables("Hi {{first name}}").is_err());
        assert_eq!(
            variables("A {{crm.tier}} caller").unwrap(),
            vec!["crm.tier"]
        );
        assert!(variables("{{crm.}}").is_err());
        assert!(variables("{{crm.a.b}}").is_err());
        assert!(variables("{{other.tier}}").is_err());
        assert!(variables("plain").unwrap().is_empty());
    }

    #[test]
    fn render_fills_known_values_and_blanks_missing_ones() {
        let values = json!({"name": "Ada", "amount": 12.5})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(
            render("Hi {{name}}, you owe {{ amount }}{{missing}}.", &values),
            "Hi Ada, you owe 12.5."
        );
    }
}
