//! `spawn_app()`: a Backend on a loopback port over a fresh database, with typed request helpers.

use bridge::{App, BridgeConfig};
use reqwest::{Method, Response};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::Arc;
use store::testing::TestDb;
use store::{NewUser, Role, Store};

pub const FLEET_SECRET: &str = "fleet-secret-0123456789";
pub const PASSWORD: &str = "correct horse battery";

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub admin: String,
    _db: TestDb,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut BridgeConfig)) -> TestApp {
    let db = match backend {
        Backend::Sqlite => store::testing::sqlite().await,
        Backend::Postgres => store::testing::postgres().await,
    };
    let mut config = BridgeConfig::new(
        [127, 0, 0, 1].into(),
        0,
        SecretString::from("jwt-secret-for-tests-0123456789"),
        SecretString::from(FLEET_SECRET),
    );
    config.crm_interval = None;
    config.capacity_interval = None;
    // The tests' receivers (CRM webhooks, tools) listen on loopback, a private network.
    config.outbound_allowed = egress::Allowed::parse("127.0.0.0/8").unwrap();
    // A deployment that runs every local provider (the sample bot asks for Piper and whisper).
    config.local_services = contracts::local_services::LocalService::ALL.into();
    tweak(&mut config);
    let app = App::build(config, db.store.clone())
        .await
        .expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let mut test_app = TestApp {
        address,
        client: reqwest::Client::new(),
        store: db.store.clone(),
        admin: String::new(),
        _db: db,
    };
    test_app.admin = test_app.user_token("admin@example.com", Role::Admin).await;
    test_app
}

impl TestApp {
    /// Creates a user with `role` in the store and signs in; returns the access token.
    pub async fn user_token(&self, email: &str, role: Role) -> String {
        let password_hash = bridge::auth::hash_password(PASSWORD.into()).await.unwrap();
        self.store
            .create_user(NewUser {
                email: email.into(),
                name: "Test User".into(),
                password_hash,
                role,
            })
            .await
            .unwrap();
        let response = self
            .post(
                "/api/v1/auth/login",
                None,
                &json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), 200, "login of {email}");
        response.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::PUT, path, token, Some(body)).await
    }

    /// Posts `csv` as `text/csv` to `path` (with its query) as the admin.
    pub async fn post_csv(&self, path: &str, csv: impl Into<reqwest::Body>) -> Response {
        self.client
            .post(format!("{}{path}", self.address))
            .bearer_auth(&self.admin)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .expect("request")
    }

    /// GETs `path` as the admin, with a `Range` header when given.
    pub async fn get_range(&self, path: &str, range: Option<&str>) -> Response {
        let mut request = self
            .client
            .get(format!("{}{path}", self.address))
            .bearer_auth(&self.admin);
        if let Some(range) = range {
            request = request.header("range", range);
        }
        request.send().await.expect("request")
    }

    /// The audit log's entries, newest first, as the admin reads them.
    pub async fn audit_log(&self) -> Vec<Value> {
        let audit: Value = self
            .get("/api/v1/audit", Some(&self.admin))
            .await
            .json()
            .await
            .unwrap();
        audit["items"].as_array().unwrap().clone()
    }

    /// Creates a bot as the admin and returns its JSON.
    pub async fn create_bot(&self, spec: Value) -> Value {
        let response = self
            .post(
                "/api/v1/bots",
                Some(&self.admin),
                &json!({"name": "Reminders", "spec": spec}),
            )
            .await;
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }
}

/// A valid bot spec that uses `{{name}}`.
pub fn bot_spec() -> Value {
    json!({
        "language": "en-US",
        "system_prompt": "You remind {{name}} of the appointment.",
        "first_message": "Hello {{name}}, this is a reminder.",
        "variables": ["name"],
        "stt": {"provider": "whisper"},
        "llm": {"provider": "openai", "model": "gpt-4o-mini", "fallback": {"provider": "llama"}},
        "tts": {"provider": "piper", "voice": "joe"},
        "tools": [
            {"type": "webhook", "name": "book", "description": "Book a slot", "url": "https://crm.example/book",
             "parameters": {"type": "object", "properties": {"slot": {"type": "string"}}, "required": ["slot"]}},
            {"type": "end_call"}
        ]
    })
}

/// The error body of a failed response: `(status, code, field)`.
pub async fn error_of(response: Response) -> (u16, String, Option<String>) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    let error = &body["error"];
    (
        status,
        error["code"].as_str().unwrap_or_default().to_owned(),
        error["field"].as_str().map(str::to_owned),
    )
}

/// Runs each named `async fn(TestApp)` once per backend.
macro_rules! api_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::spawn_app(crate::helpers::Backend::Postgres).await).await;
                }
            )+
        }
    };
}
pub(crate) use api_tests;
