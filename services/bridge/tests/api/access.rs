//! Every documented operation refuses a missing token, and the ones above viewer refuse a viewer.
//!
//! Checked over the whole OpenAPI document.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use store::Role;

/// Each operation's method, concrete path and the role its description names.
fn operations() -> Vec<(Method, String, Option<&'static str>, Value)> {
    let document = bridge::openapi::document();
    let mut out = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let concrete = path
                .replace("{id}", "1")
                .replace("{version}", "1")
                .replace("{phone}", "+14155550123")
                .replace("{number}", "+14155550123")
                .replace("{key}", "llm.model")
                .replace("{scope}", "bot")
                .replace("{action}", "start");
            let description = operation["description"].as_str().unwrap_or_default();
            let role = ["admin", "operator", "viewer"]
                .into_iter()
                .find(|role| description.contains(&format!("the {role} role")));
            out.push((
                method.to_uppercase().parse().unwrap(),
                concrete,
                role,
                operation["security"].clone(),
            ));
        }
    }
    out
}

async fn every_protected_operation_refuses_a_missing_token_and_a_lower_role(app: TestApp) {
    let viewer = app.user_token("viewer@example.com", Role::Viewer).await;
    let mut checked = 0;
    for (method, path, role, security) in operations() {
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        if security.as_array().is_some_and(|s| !s.is_empty()) {
            let anonymous = app
                .request(method.clone(), &path, None, body.as_ref())
                .await;
            assert_eq!(anonymous.status(), 401, "{method} {path} without a token");
            let (_, code, _) = error_of(anonymous).await;
            assert!(code.starts_with("auth."), "{method} {path}: {code}");
            checked += 1;
        }
        if matches!(role, Some("operator" | "admin")) {
            let denied = app
                .request(method.clone(), &path, Some(&viewer), body.as_ref())
                .await;
            assert_eq!(denied.status(), 403, "{method} {path} as a viewer");
        }
    }
    assert!(checked > 40, "only {checked} operations checked");
}

api_tests!(every_protected_operation_refuses_a_missing_token_and_a_lower_role);
