//! Sign-in, refresh, roles on routes, API keys, login rate limits and users.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use store::Role;

async fn sign_in_returns_tokens_and_refresh_renews_them(app: TestApp) {
    let response = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"email": "ADMIN@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["token_type"], "Bearer");
    assert_eq!(session["user"]["role"], "admin");
    let me = app
        .get(
            "/api/v1/auth/me",
            Some(session["access_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        me.json::<Value>().await.unwrap()["email"],
        "admin@example.com"
    );
    // A refresh token is not an access token, and vice versa.
    let refresh = session["refresh_token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/auth/me", Some(refresh)).await.status(),
        401
    );
    let renewed = app
        .post(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(renewed.status(), 200);
    let bad = app
        .post(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": session["access_token"]}),
        )
        .await;
    assert_eq!(bad.status(), 401);
}

async fn a_wrong_password_is_401_and_repeated_failures_are_rate_limited(app: TestApp) {
    for _ in 0..5 {
        let response = app
            .post(
                "/api/v1/auth/login",
                None,
                &json!({"email": "admin@example.com", "password": "wrong password"}),
            )
            .await;
        assert_eq!(response.status(), 401);
    }
    let (status, code, _) = error_of(
        app.post(
            "/api/v1/auth/login",
            None,
            &json!({"email": "admin@example.com", "password": PASSWORD}),
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (429, "auth.rate_limited"));
    // M8: the guesser's address is locked out, not the account's owner on another address.
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let response = elsewhere
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&json!({"email": "admin@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn a_flood_of_concurrent_wrong_logins_gets_five_tries_and_health_stays_fast(app: TestApp) {
    let body = json!({"email": "admin@example.com", "password": "wrong password"});
    let flood = (0..200).map(|_| app.post("/api/v1/auth/login", None, &body));
    let health = async {
        // While the flood is verified, the Backend still answers at once.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        let status = app.get("/health", None).await.status();
        (status, started.elapsed())
    };
    let (responses, (health, took)) = tokio::join!(futures_util::future::join_all(flood), health);
    let wrong = responses.iter().filter(|r| r.status() == 401).count();
    let limited = responses.iter().filter(|r| r.status() == 429).count();
    assert!(wrong <= 5, "{wrong} attempts were verified, not at most 5");
    assert_eq!(wrong + limited, 200, "{wrong} 401s and {limited} 429s");
    assert_eq!(health, 200);
    assert!(
        took < std::time::Duration::from_secs(1),
        "/health took {took:?}"
    );
}

async fn an_unknown_email_is_refused_as_slowly_as_a_known_one(app: TestApp) {
    let time = |email: String| {
        let app = &app;
        async move {
            let body = json!({"email": email, "password": "wrong password"});
            let started = std::time::Instant::now();
            assert_eq!(
                app.post("/api/v1/auth/login", None, &body).await.status(),
                401
            );
            started.elapsed()
        }
    };
    // Warm the decoy hash first; then both take an argon2 verification, some 20 ms, where a
    // refusal without one takes a millisecond or two (that the decoy costs what a user's hash
    // costs is `auth::tests`'s). Samples alternate, and their medians are compared, within a
    // factor of four: the argon2 slots and the two cores are shared with whatever else runs in
    // this process (the flood test above, the other store's run of this one), and under that
    // load a fastest sample of each once found a lucky unknown one four times faster than every
    // known one, and medians of eight 3.4 times. Two known accounts take four tries each, under
    // the limit of five an account has; the address has 17 of its 20.
    app.user_token("viewer@example.com", Role::Viewer).await;
    time("warm@example.com".into()).await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..8 {
        let account = ["admin@example.com", "viewer@example.com"][i % 2];
        known.push(time(account.into()).await);
        unknown.push(time(format!("nobody{i}@example.com")).await);
    }
    let median = |mut samples: Vec<std::time::Duration>| {
        samples.sort();
        samples[samples.len() / 2]
    };
    let (known, unknown) = (median(known), median(unknown));
    assert!(
        unknown >= known / 4,
        "median unknown {unknown:?} against median known {known:?}"
    );
}

/// `POST /auth/refresh` with `token`.
async fn refresh_with(app: &TestApp, token: &str) -> reqwest::Response {
    let body = json!({ "refresh_token": token });
    app.post("/api/v1/auth/refresh", None, &body).await
}

/// Signs in as `email`: (access token, refresh token).
async fn sign_in(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let body = json!({"email": email, "password": password});
    let session: Value = app
        .post("/api/v1/auth/login", None, &body)
        .await
        .json()
        .await
        .unwrap();
    let token = |k: &str| session[k].as_str().unwrap().to_owned();
    (token("access_token"), token("refresh_token"))
}

/// M10: a new password ends the sessions the old one opened, and signing out ends them all:
/// their refresh tokens and their access tokens stop working at once.
async fn a_new_password_or_a_sign_out_ends_every_session(app: TestApp) {
    let body = json!({"email": "ops@example.com", "name": "Ops", "password": PASSWORD, "role": "operator"});
    let created: Value = app
        .post("/api/v1/users", Some(&app.admin), &body)
        .await
        .json()
        .await
        .unwrap();
    let (access, refresh) = sign_in(&app, "ops@example.com", PASSWORD).await;
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&access)).await.status(),
        200
    );
    let new_password = "a brand new passphrase";
    let path = format!("/api/v1/users/{}", created["id"]);
    let changed = app
        .request(
            reqwest::Method::PATCH,
            &path,
            Some(&app.admin),
            Some(&json!({"password": new_password})),
        )
        .await;
    assert_eq!(changed.status(), 200);
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&access)).await.status(),
        401
    );
    assert_eq!(refresh_with(&app, &refresh).await.status(), 401);
    // Signed in again with the new password, then out: nothing of that session works.
    let (access, refresh) = sign_in(&app, "ops@example.com", new_password).await;
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&access)).await.status(),
        200
    );
    let out = app
        .post("/api/v1/auth/logout", Some(&access), &json!({}))
        .await;
    assert_eq!(out.status(), 204);
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&access)).await.status(),
        401
    );
    assert_eq!(refresh_with(&app, &refresh).await.status(), 401);
    // Another user's session is untouched, and signing in works again.
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&app.admin)).await.status(),
        200
    );
    let (access, _) = sign_in(&app, "ops@example.com", new_password).await;
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&access)).await.status(),
        200
    );
}

async fn one_address_trying_many_accounts_is_rate_limited(app: TestApp) {
    for i in 0..20 {
        let body = json!({"email": format!("nobody{i}@example.com"), "password": "guess guess"});
        assert_eq!(
            app.post("/api/v1/auth/login", None, &body).await.status(),
            401
        );
    }
    let body = json!({"email": "admin@example.com", "password": PASSWORD});
    let (status, code, _) = error_of(app.post("/api/v1/auth/login", None, &body).await).await;
    assert_eq!((status, code.as_str()), (429, "auth.rate_limited"));
}

async fn routes_refuse_missing_tokens_and_roles_below_theirs(app: TestApp) {
    assert_eq!(app.get("/api/v1/bots", None).await.status(), 401);
    assert_eq!(
        app.get("/api/v1/bots", Some("not-a-token")).await.status(),
        401
    );
    let viewer = app.user_token("viewer@example.com", Role::Viewer).await;
    assert_eq!(app.get("/api/v1/bots", Some(&viewer)).await.status(), 200);
    let (status, code, _) = error_of(
        app.post(
            "/api/v1/bots",
            Some(&viewer),
            &json!({"name": "x", "spec": bot_spec()}),
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "auth.forbidden"));
    let operator = app.user_token("operator@example.com", Role::Operator).await;
    assert_eq!(
        app.post(
            "/api/v1/bots",
            Some(&operator),
            &json!({"name": "x", "spec": bot_spec()})
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        app.get("/api/v1/users", Some(&operator)).await.status(),
        403
    );
    assert_eq!(
        app.get("/api/v1/audit", Some(&operator)).await.status(),
        403
    );
}

async fn an_api_key_is_shown_once_acts_with_its_role_and_stops_when_revoked(app: TestApp) {
    let created = app
        .post(
            "/api/v1/api-keys",
            Some(&app.admin),
            &json!({"name": "crm sync", "role": "viewer"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("vox_"));
    let listed: Value = app
        .get("/api/v1/api-keys", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !listed.to_string().contains(&key),
        "the key must never be shown again"
    );
    assert_eq!(app.get("/api/v1/bots", Some(&key)).await.status(), 200);
    assert_eq!(
        app.post(
            "/api/v1/bots",
            Some(&key),
            &json!({"name": "x", "spec": bot_spec()})
        )
        .await
        .status(),
        403
    );
    let id = created["api_key"]["id"].as_i64().unwrap();
    let revoked = app
        .request(
            Method::DELETE,
            &format!("/api/v1/api-keys/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(app.get("/api/v1/bots", Some(&key)).await.status(), 401);
}

async fn admins_create_and_disable_users(app: TestApp) {
    let weak = app.post("/api/v1/users", Some(&app.admin), &json!({"email": "op@example.com", "name": "Op", "password": "short", "role": "operator"})).await;
    assert_eq!(error_of(weak).await.2.as_deref(), Some("password"));
    let created = app
        .post("/api/v1/users", Some(&app.admin), &json!({"email": "op@example.com", "name": "Op", "password": "long enough password", "role": "operator"}))
        .await;
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let login = json!({"email": "op@example.com", "password": "long enough password"});
    let token = app
        .post("/api/v1/auth/login", None, &login)
        .await
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let disabled = app
        .request(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(&app.admin),
            Some(&json!({"disabled": true})),
        )
        .await;
    assert_eq!(disabled.status(), 200);
    assert_eq!(app.get("/api/v1/bots", Some(&token)).await.status(), 401);
    assert_eq!(
        app.post("/api/v1/auth/login", None, &login).await.status(),
        401
    );
    let duplicate = app
        .post("/api/v1/users", Some(&app.admin), &json!({"email": "op@example.com", "name": "Op", "password": "long enough password", "role": "viewer"}))
        .await;
    assert_eq!(error_of(duplicate).await.0, 409);
}

/// M10: each refresh token works once. A second use (a stolen copy, or the thief racing the
/// owner) revokes the whole family and ends every session of the user.
async fn a_refresh_token_works_once_and_its_reuse_signs_everyone_out(app: TestApp) {
    let (_, first) = sign_in(&app, "admin@example.com", PASSWORD).await;
    let renewed: Value = refresh_with(&app, &first).await.json().await.unwrap();
    let second = renewed["refresh_token"].as_str().unwrap().to_owned();
    let access = renewed["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&access)).await.status(),
        200
    );
    // Another sign-in (another device) is its own family.
    let (other_access, other_refresh) = sign_in(&app, "admin@example.com", PASSWORD).await;
    // The first token again: reuse.
    let (status, _, _) = error_of(refresh_with(&app, &first).await).await;
    assert_eq!(status, 401);
    // The family's newest token is revoked with it, and every session of the user ends.
    assert_eq!(error_of(refresh_with(&app, &second).await).await.0, 401);
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&access)).await.status(),
        401
    );
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&other_access))
            .await
            .status(),
        401
    );
    assert_eq!(
        error_of(refresh_with(&app, &other_refresh).await).await.0,
        401
    );
    // Signing in again works.
    let (access, _) = sign_in(&app, "admin@example.com", PASSWORD).await;
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&access)).await.status(),
        200
    );
}

api_tests!(
    a_refresh_token_works_once_and_its_reuse_signs_everyone_out,
    sign_in_returns_tokens_and_refresh_renews_them,
    a_wrong_password_is_401_and_repeated_failures_are_rate_limited,
    a_flood_of_concurrent_wrong_logins_gets_five_tries_and_health_stays_fast,
    an_unknown_email_is_refused_as_slowly_as_a_known_one,
    one_address_trying_many_accounts_is_rate_limited,
    a_new_password_or_a_sign_out_ends_every_session,
    routes_refuse_missing_tokens_and_roles_below_theirs,
    an_api_key_is_shown_once_acts_with_its_role_and_stops_when_revoked,
    admins_create_and_disable_users,
);

/// M8: behind a trusted proxy the limiter counts the client named in `X-Forwarded-For`, so one
/// guesser does not lock out everyone behind the proxy; from anyone else the header is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_limiter_counts_the_forwarded_client() {
    let login = |app: &TestApp, forwarded: &str, password: &str| {
        app.client
            .post(format!("{}/api/v1/auth/login", app.address))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"email": "admin@example.com", "password": password}))
            .send()
    };
    let proxied = spawn_app_with(Backend::Sqlite, |config| {
        config.trusted_proxies = egress::Allowed::parse("127.0.0.1").unwrap();
    })
    .await;
    for _ in 0..5 {
        // A spoofed first hop is not believed: the proxy appended the real client.
        let response = login(&proxied, "10.9.9.9, 203.0.113.5", "wrong")
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let response = login(&proxied, "203.0.113.5", PASSWORD).await.unwrap();
    assert_eq!(response.status(), 429);
    let response = login(&proxied, "198.51.100.7", PASSWORD).await.unwrap();
    assert_eq!(response.status(), 200, "another client behind the proxy");
    // Not a trusted proxy: the header changes nothing, the peer is locked out.
    let direct = spawn_app(Backend::Sqlite).await;
    for _ in 0..5 {
        let response = login(&direct, "203.0.113.5", "wrong").await.unwrap();
        assert_eq!(response.status(), 401);
    }
    let response = login(&direct, "198.51.100.7", PASSWORD).await.unwrap();
    assert_eq!(response.status(), 429);
}
