//! HTTPS: rustls with the aws-lc-rs provider, from PEM files or a generated self-signed
//! certificate; the certificate is reloaded on SIGHUP and when its files change.

use crate::config::Config;
use axum_server::tls_rustls::RustlsConfig;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Which certificate files to serve, making the self-signed pair if asked and missing.
pub fn files(config: &Config) -> Result<Option<TlsFiles>, String> {
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        return Ok(Some(TlsFiles { cert: cert.clone(), key: key.clone() }));
    }
    if !config.tls_self_signed {
        return Ok(None);
    }
    let dir = config.data_dir.join("tls");
    let files = TlsFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    if !files.cert.exists() || !files.key.exists() {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
        if !config.listen.ip().is_unspecified() && !config.listen.ip().is_loopback() {
            names.push(config.listen.ip().to_string());
        }
        let generated =
            rcgen::generate_simple_self_signed(names).map_err(|e| format!("making a self-signed certificate: {e}"))?;
        crate::bootstrap::write_private(&files.key, generated.key_pair.serialize_pem().as_bytes())?;
        std::fs::write(&files.cert, generated.cert.pem()).map_err(|e| format!("{}: {e}", files.cert.display()))?;
    }
    println!(
        "TLS: self-signed certificate {} (SHA-256 fingerprint {})",
        files.cert.display(),
        fingerprint(&files.cert)?
    );
    Ok(Some(files))
}

/// SHA-256 of the first certificate in a PEM file, as colon-separated hex.
pub fn fingerprint(cert: &Path) -> Result<String, String> {
    let pem = std::fs::read_to_string(cert).map_err(|e| format!("{}: {e}", cert.display()))?;
    let b64: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = STANDARD.decode(b64).map_err(|_| format!("{} holds no PEM certificate", cert.display()))?;
    Ok(trent_crypto::sha256(&der).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":"))
}

pub async fn load(files: &TlsFiles) -> Result<RustlsConfig, String> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    RustlsConfig::from_pem_file(&files.cert, &files.key)
        .await
        .map_err(|e| format!("loading TLS certificate {} / key {}: {e}", files.cert.display(), files.key.display()))
}

fn modified(files: &TlsFiles) -> Option<(SystemTime, SystemTime)> {
    Some((std::fs::metadata(&files.cert).ok()?.modified().ok()?, std::fs::metadata(&files.key).ok()?.modified().ok()?))
}

/// Reloads the certificate on SIGHUP or when either file changes (checked every 2 s). A bad
/// new pair is logged and the old one kept.
pub fn watch(files: TlsFiles, config: RustlsConfig) {
    tokio::spawn(async move {
        let mut last = modified(&files);
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            #[cfg(unix)]
            let signalled = async {
                match hup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let signalled = std::future::pending::<()>();
            let why = tokio::select! {
                _ = signalled => "SIGHUP",
                _ = tokio::time::sleep(Duration::from_secs(2)) => {
                    let now = modified(&files);
                    if now == last { continue; }
                    "the files changed"
                }
            };
            last = modified(&files);
            match config.reload_from_pem_file(&files.cert, &files.key).await {
                Ok(()) => tracing::info!(reason = why, cert = %files.cert.display(), "reloaded the TLS certificate"),
                Err(e) => tracing::error!(error = %e, "reloading the TLS certificate failed; keeping the old one"),
            }
        }
    });
}
