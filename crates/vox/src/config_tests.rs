//! The settings' tests: defaults, each variable's checks, and the errors that name them.

use super::*;
use secrecy::ExposeSecret;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `full` meets `requirement`; leaving out any one of `needed` fails it naming that setting.
fn each_one_missing_is_named(full: &[(&str, &str)], requirement: Requirement, needed: &[&str]) {
    for missing in needed {
        let partial: Vec<_> = full.iter().copied().filter(|(k, _)| k != missing).collect();
        let error = Settings::load(&env(&partial), None)
            .unwrap()
            .require(requirement)
            .unwrap_err();
        assert_eq!(error.setting, *missing, "{error}");
    }
}

#[test]
fn defaults_describe_the_embedded_platform() {
    let settings = Settings::load(&env(&[]), None).unwrap();
    assert_eq!(settings.database_url, DEFAULT_DATABASE_URL);
    assert!(settings.is_embedded_database());
    assert_eq!(settings.voxbridge_port, 8080);
    assert_eq!(settings.max_concurrent_calls, 1);
    assert_eq!(settings.health_port, 8090);
    assert!(settings.fleet_urls.is_empty());
    assert!(settings.fleet_local_providers.is_empty());
}

#[test]
fn the_local_providers_the_workers_run_are_read_by_name() {
    use contracts::local_services::LocalService;
    let settings =
        Settings::load(&env(&[("FLEET_LOCAL_PROVIDERS", "whisper, piper")]), None).unwrap();
    assert_eq!(
        settings.fleet_local_providers,
        [LocalService::Piper, LocalService::Whisper].into()
    );
}

#[test]
fn malformed_settings_are_named() {
    let cases = [
        ("DATABASE_URL", "mysql://u:hunter22@db/vox"),
        ("VOXBRIDGE_PORT", "eighty"),
        ("VOXBRIDGE_HOST", "example.com"),
        ("MAX_CONCURRENT_CALLS", "0"),
        ("LOOP_INTERVAL_SECONDS", "-2"),
        ("REDIS_URL", "localhost:6379"),
        ("FLEET_URLS", "http://a:9000, ftp://b"),
        ("JWT_SECRET", "short"),
        ("VOX_UP_CARRIER", "pigeon"),
        ("FLEET_LOCAL_PROVIDERS", "piper,kokoro"),
    ];
    for (name, value) in cases {
        let error = Settings::load(&env(&[(name, value)]), None).unwrap_err();
        assert_eq!(error.setting, name, "{error}");
    }
}

#[test]
fn the_dialler_needs_the_fleet_secret_and_the_fleet_urls() {
    let full = [
        ("VOXCORE_SECRET", "fleet-secret-0123456789"),
        ("FLEET_URLS", "http://127.0.0.1:9001, http://127.0.0.1:9002"),
    ];
    let settings = Settings::load(&env(&full), None).unwrap();
    settings.require(Requirement::Dialler).unwrap();
    assert_eq!(settings.fleet_urls.len(), 2);
    each_one_missing_is_named(
        &full,
        Requirement::Dialler,
        &["VOXCORE_SECRET", "FLEET_URLS"],
    );
}

#[test]
fn a_fleet_worker_needs_its_secret_the_backend_and_somewhere_to_listen() {
    let full = [
        ("VOXCORE_SECRET", "fleet-secret-0123456789"),
        ("VOXBRIDGE_URL", "http://127.0.0.1:8080"),
        ("VOXCORE_SOCKET", "/tmp/voxcore_1.sock"),
        ("OPENAI_API_KEY", "sk-test"),
        (
            "VOXCORE_FLEET_SOCKETS",
            "/tmp/voxcore_*.sock, http://10.0.0.2:9000",
        ),
    ];
    let settings = Settings::load(&env(&full), None).unwrap();
    settings.require(Requirement::Core).unwrap();
    assert_eq!(settings.voxcore_fleet_sockets.len(), 2);
    assert_eq!(settings.provider_keys.len(), 1);
    assert_eq!(settings.provider_keys[0].0, "openai");
    each_one_missing_is_named(
        &full,
        Requirement::Core,
        &["VOXCORE_SECRET", "VOXBRIDGE_URL", "VOXCORE_SOCKET"],
    );
    let error = Settings::load(&env(&[("VOXCORE_DRAIN_SECONDS", "soon")]), None).unwrap_err();
    assert_eq!(error.setting, "VOXCORE_DRAIN_SECONDS");
}

#[test]
fn error_messages_never_show_secrets() {
    let error =
        Settings::load(&env(&[("DATABASE_URL", "mysql://u:hunter22@db/vox")]), None).unwrap_err();
    assert!(!error.to_string().contains("hunter22"), "{error}");
    let error = Settings::load(&env(&[("VOXCORE_SECRET", "tooshort")]), None).unwrap_err();
    assert!(!error.to_string().contains("tooshort"), "{error}");
    let settings = Settings::load(
        &env(&[("JWT_SECRET", "a-very-long-jwt-secret-value")]),
        None,
    )
    .unwrap();
    assert!(!format!("{settings:?}").contains("a-very-long-jwt-secret-value"));
    assert_eq!(
        settings.jwt_secret.unwrap().expose_secret(),
        "a-very-long-jwt-secret-value"
    );
}

#[test]
fn an_s3_object_store_needs_its_keys() {
    let settings =
        Settings::load(&env(&[("OBJECT_STORE_URL", "s3://recordings/calls")]), None).unwrap();
    assert_eq!(settings.s3_bucket(), Some("recordings"));
    assert_eq!(
        settings.require(Requirement::Database).unwrap_err().setting,
        "S3_ACCESS_KEY_ID"
    );
    let error = Settings::load(&env(&[("S3_ENDPOINT", "minio:9000")]), None).unwrap_err();
    assert_eq!(error.setting, "S3_ENDPOINT");
}

#[test]
fn the_bridge_requires_both_secrets() {
    let settings = Settings::load(&env(&[("JWT_SECRET", "0123456789abcdef0123")]), None).unwrap();
    assert_eq!(
        settings.require(Requirement::Bridge).unwrap_err().setting,
        "VOXCORE_SECRET"
    );
    assert!(settings.require(Requirement::Database).is_ok());
}

#[test]
fn the_environment_overrides_the_toml_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vox.toml");
    std::fs::write(&path, "VOXBRIDGE_PORT = 9000\nhealth_port = 9100\nFLEET_URLS = [\"http://a:1\", \"http://b:2\"]\n").unwrap();
    let settings = Settings::load(&env(&[("VOXBRIDGE_PORT", "9001")]), Some(&path)).unwrap();
    assert_eq!(settings.voxbridge_port, 9001);
    assert_eq!(settings.health_port, 9100);
    assert_eq!(settings.fleet_urls, vec!["http://a:1", "http://b:2"]);
    std::fs::write(&path, "VOXBRIDGE_PORT = [").unwrap();
    assert_eq!(
        Settings::load(&env(&[]), Some(&path)).unwrap_err().setting,
        "VOX_CONFIG"
    );
}

#[test]
fn every_carrier_emulator_can_run_the_demo() {
    for (name, carrier) in [
        ("sim", CarrierChoice::Sim),
        ("twilio", CarrierChoice::Twilio),
        ("telnyx", CarrierChoice::Telnyx),
        ("plivo", CarrierChoice::Plivo),
        ("vonage", CarrierChoice::Vonage),
        ("exotel", CarrierChoice::Exotel),
    ] {
        let settings = Settings::load(&env(&[("VOX_UP_CARRIER", name)]), None).unwrap();
        assert_eq!(settings.vox_up_carrier, carrier);
    }
    let error = Settings::load(&env(&[("VOX_UP_CARRIER", "pigeon")]), None).unwrap_err();
    assert!(error.to_string().contains("exotel"), "{error}");
}

#[test]
fn vox_sip_reads_its_settings_and_names_each_malformed_one() {
    let settings = Settings::load(&env(&[]), None).unwrap();
    assert_eq!(settings.sip.listen.to_string(), "127.0.0.1:5060");
    assert_eq!(settings.sip.rtp_ports, 10_000..=20_000);
    assert_eq!(settings.vox_up_sip, None);
    let given = [
        ("VOX_SIP_LISTEN", "0.0.0.0:5080"),
        ("VOX_SIP_EXTERNAL_IP", "203.0.113.10"),
        ("VOX_SIP_RTP_PORTS", "30000 - 30999"),
        ("VOX_SIP_ACCOUNT", "7"),
        ("VOX_SIP_RTP_TIMEOUT", "12"),
        ("VOX_UP_SIP", "0"),
        ("VOX_SIP_ALLOWED_NETWORKS", "203.0.113.0/24, 2001:db8::1"),
    ];
    let settings = Settings::load(&env(&given), None).unwrap();
    let config = settings.sip.gateway();
    assert_eq!(config.listen.to_string(), "0.0.0.0:5080");
    assert!(config.tcp);
    assert_eq!(config.rtp_ports, 30_000..=30_999);
    assert_eq!(config.external_ip, Some("203.0.113.10".parse().unwrap()));
    assert_eq!(config.rtp_timeout, std::time::Duration::from_secs(12));
    assert_eq!(settings.sip.account, Some(7));
    assert_eq!(settings.vox_up_sip, Some(0));
    let allowed = config.allowed_sources.expect("the networks given");
    assert!(allowed.contains("203.0.113.7".parse().unwrap()));
    assert!(!allowed.contains("198.51.100.7".parse().unwrap()));
    let cases: [&[(&str, &str)]; 10] = [
        &[("VOX_SIP_ALLOWED_NETWORKS", "10.0.0.0/33")],
        &[("VOX_SIP_LISTEN", "5060")],
        &[("VOX_SIP_ACCOUNT", "trunk")],
        &[("VOX_SIP_ACCOUNT", "0")],
        &[("VOX_SIP_RTP_PORTS", "20000")],
        &[("VOX_SIP_RTP_PORTS", "20000-10000")],
        &[("VOX_SIP_RTP_PORTS", "80-90")],
        &[("VOX_SIP_EXTERNAL_IP", "sip.example.com")],
        &[("VOX_SIP_RTP_TIMEOUT", "0")],
        &[("VOX_UP_SIP", "65536")],
    ];
    for pairs in cases {
        let error = Settings::load(&env(pairs), None).unwrap_err();
        assert_eq!(error.setting, pairs[0].0, "{error}");
    }
    // SDP must name one address: every address needs the external one.
    let error = Settings::load(&env(&[("VOX_SIP_LISTEN", "0.0.0.0:5060")]), None).unwrap_err();
    assert_eq!(error.setting, "VOX_SIP_EXTERNAL_IP", "{error}");
}

#[test]
fn vox_sip_needs_its_trunk_account_the_fleet_secret_and_the_backend() {
    let full = [
        ("VOX_SIP_ACCOUNT", "3"),
        ("VOXCORE_SECRET", "fleet-secret-0123456789"),
        ("VOXBRIDGE_URL", "http://127.0.0.1:8080"),
    ];
    Settings::load(&env(&full), None)
        .unwrap()
        .require(Requirement::Sip)
        .unwrap();
    each_one_missing_is_named(
        &full,
        Requirement::Sip,
        &["VOX_SIP_ACCOUNT", "VOXCORE_SECRET", "VOXBRIDGE_URL"],
    );
}

#[test]
fn the_original_platforms_minio_settings_stand_in_only_for_the_s3_settings_left_unset() {
    let minio = [
        ("MINIO_ENDPOINT", "minio.internal:9000"),
        ("MINIO_ACCESS_KEY", "minio-user"),
        ("MINIO_SECRET_KEY", "minio-secret"),
        ("MINIO_BUCKET", "recordings"),
    ];
    let settings = Settings::load(&env(&minio), None).unwrap();
    assert_eq!(settings.object_store_url, "s3://recordings");
    // MinIO's client speaks HTTPS unless told otherwise.
    assert_eq!(
        settings.s3_endpoint.as_deref(),
        Some("https://minio.internal:9000")
    );
    assert_eq!(settings.s3_access_key_id.as_deref(), Some("minio-user"));
    assert_eq!(
        settings.s3_secret_access_key.unwrap().expose_secret(),
        "minio-secret"
    );
    let mut ours = minio.to_vec();
    ours.extend([
        ("S3_ENDPOINT", "http://127.0.0.1:9100"),
        ("OBJECT_STORE_URL", "file:///var/lib/vox/recordings"),
        ("MINIO_SECURE", "false"),
    ]);
    let settings = Settings::load(&env(&ours), None).unwrap();
    assert_eq!(
        settings.s3_endpoint.as_deref(),
        Some("http://127.0.0.1:9100")
    );
    assert_eq!(settings.object_store_url, "file:///var/lib/vox/recordings");
    assert_eq!(settings.s3_access_key_id.as_deref(), Some("minio-user"));
}

#[test]
fn malformed_minio_settings_are_refused_naming_the_setting() {
    for (setting, value, says) in [
        ("MINIO_ENDPOINT", "http://localhost:9000", "no scheme"),
        ("MINIO_ENDPOINT", "localhost:9000/recordings", "no path"),
        ("MINIO_ENDPOINT", "localhost:nine", "is not a port"),
        ("MINIO_ENDPOINT", ":9000", "host is empty"),
        ("MINIO_ENDPOINT", "::1:9000", "IPv6"),
        ("MINIO_SECURE", "maybe", "true or false"),
        ("MINIO_BUCKET", "Recordings_2024", "bucket name"),
    ] {
        let error = Settings::load(&env(&[(setting, value)]), None).unwrap_err();
        assert_eq!(error.setting, setting, "{value}: {error}");
        assert!(error.problem.contains(says), "{value}: {error}");
    }
    for endpoint in ["localhost", "10.0.0.5:9000", "[::1]:9000", "[::1]"] {
        let settings = Settings::load(&env(&[("MINIO_ENDPOINT", endpoint)]), None);
        assert!(settings.is_ok(), "{endpoint}: {settings:?}");
    }
}

#[test]
fn the_original_platforms_mongodb_settings_are_refused_pointing_at_database_url() {
    for setting in ["MONGODB_URI", "MONGODB_DB"] {
        let error = Settings::load(&env(&[(setting, "voxbridge")]), None).unwrap_err();
        assert_eq!(error.setting, setting);
        assert!(
            error.problem.contains("DATABASE_URL") && error.problem.contains("docs/migration.md"),
            "{error}"
        );
    }
}
