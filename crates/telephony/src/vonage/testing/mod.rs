//! A Vonage application key pair for tests and the emulator's demo: never a real application's.
//!
//! Generated for vox with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`; the
//! public half with `openssl pkey -pubout`. Anyone can read it here, so it signs nothing real.

/// The test application's private key (PKCS#8 PEM), an account's `secret`.
pub const PRIVATE_KEY: &str = include_str!("private_key.pem");
/// Its public key (SPKI PEM), what Vonage would hold.
pub const PUBLIC_KEY: &str = include_str!("public_key.pem");
