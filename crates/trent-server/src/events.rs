//! Event sinks: an append-only JSON-lines file and HTTP webhooks. `emit` only queues; a
//! background worker per sink delivers. A full queue drops the event with a warning rather
//! than slow or fail an API call.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;
use trent_ssm::events::EventSink;
use zeroize::Zeroizing;

const QUEUE: usize = 10_000;
const ATTEMPTS: u32 = 6;

pub struct Sinks {
    queues: Vec<(String, mpsc::Sender<Value>)>,
}

impl EventSink for Sinks {
    fn emit(&self, event: Value) {
        for (name, q) in &self.queues {
            if q.try_send(event.clone()).is_err() {
                tracing::warn!(sink = %name, "event queue full or closed: event dropped");
            }
        }
    }
}

/// Checks the webhook URLs (http:// or https://).
pub fn check_webhooks(urls: &[String]) -> Result<(), String> {
    for u in urls {
        let uri: hyper::Uri = u.parse().map_err(|_| format!("--event-webhook {u}: not a URL"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(format!("--event-webhook {u}: only http:// and https:// URLs are supported"));
        }
    }
    Ok(())
}

/// The HTTP client of the webhooks: https:// through rustls (aws-lc-rs), trusting Mozilla's
/// roots, the system bundle and `--event-webhook-ca-file`.
fn client(ca_file: Option<&Path>) -> Result<HttpClient, String> {
    let tls = crate::rotators::Trust::load(ca_file, "--event-webhook-ca-file")?.webhook_config()?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls).clone())
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Starts the workers (must run inside the tokio runtime) and returns the sink to give SSM.
pub fn start(file: Option<PathBuf>, webhooks: &[String], ca_file: Option<&Path>) -> Result<Sinks, String> {
    let mut queues = Vec::new();
    if let Some(path) = file {
        let (tx, rx) = mpsc::channel(QUEUE);
        queues.push((path.display().to_string(), tx));
        tokio::task::spawn_blocking(move || write_file(path, rx));
    }
    let secret = std::env::var("TRENT_EVENT_WEBHOOK_SECRET").ok().filter(|s| !s.is_empty()).map(Zeroizing::new);
    let client = match webhooks.is_empty() {
        true => None,
        false => Some(client(ca_file)?),
    };
    for url in webhooks {
        let (tx, rx) = mpsc::channel(QUEUE);
        queues.push((url.clone(), tx));
        let client = client.clone().ok_or("no webhook client")?;
        tokio::spawn(deliver(client, url.clone(), secret.clone(), rx));
    }
    Ok(Sinks { queues })
}

fn write_file(path: PathBuf, mut rx: mpsc::Receiver<Value>) {
    let open = || std::fs::OpenOptions::new().create(true).append(true).open(&path);
    let mut f = match open() {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot open the events file; events are dropped");
            return;
        }
    };
    while let Some(ev) = rx.blocking_recv() {
        let mut line = ev.to_string();
        line.push('\n');
        if let Err(e) = f.write_all(line.as_bytes()).and_then(|_| f.flush()) {
            tracing::error!(path = %path.display(), error = %e, "writing an event failed");
        }
    }
}

fn signature(secret: &[u8], body: &[u8]) -> String {
    let tag = aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret), body);
    format!("sha256={}", hex::encode(tag.as_ref()))
}

async fn deliver(client: HttpClient, url: String, secret: Option<Zeroizing<String>>, mut rx: mpsc::Receiver<Value>) {
    while let Some(ev) = rx.recv().await {
        let body = Bytes::from(ev.to_string());
        let id = ev.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let mut delay = Duration::from_millis(200);
        for attempt in 1..=ATTEMPTS {
            let mut req = hyper::Request::post(&url)
                .header("content-type", "application/json")
                .header("user-agent", concat!("trentd/", env!("CARGO_PKG_VERSION")))
                .header("x-trent-event-id", id.as_str());
            if let Some(s) = &secret {
                req = req.header("x-trent-signature", signature(s.as_bytes(), &body));
            }
            let Ok(req) = req.body(Full::new(body.clone())) else { break };
            match tokio::time::timeout(Duration::from_secs(10), client.request(req)).await {
                Ok(Ok(resp)) if resp.status().is_success() => break,
                outcome => {
                    let why = match outcome {
                        Ok(Ok(resp)) => format!("status {}", resp.status()),
                        Ok(Err(e)) => e.to_string(),
                        Err(_) => "timed out".into(),
                    };
                    if attempt == ATTEMPTS {
                        tracing::warn!(%url, event = %id, %why, "webhook delivery failed; event dropped");
                    } else {
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(10));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// What the local HTTPS receiver saw: a request body, or a refused handshake.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Body(Vec<u8>),
        HandshakeFailed,
    }

    /// A throwaway CA and an HTTPS receiver on loopback with a `localhost` certificate it issued:
    /// (URL, CA certificate PEM, what it sees).
    async fn https_receiver() -> (String, String, mpsc::UnboundedReceiver<Seen>) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf =
            CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&leaf_key, &ca, &ca_key).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://localhost:{}/hook", listener.local_addr().unwrap().port());
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        let _ = tx.send(Seen::HandshakeFailed);
                        return;
                    };
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let n = tls.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
                            let _ = tx.send(Seen::Body(buf[end + 4..end + 4 + len].to_vec()));
                            return;
                        }
                    }
                });
            }
        });
        (url, ca.pem(), rx)
    }

    #[tokio::test]
    async fn https_webhooks_deliver_to_a_server_the_ca_file_vouches_for() {
        let (url, ca_pem, mut seen) = https_receiver().await;
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_pem).unwrap();
        let sinks = start(None, std::slice::from_ref(&url), Some(&ca_file)).unwrap();
        let event = serde_json::json!({"id": "e-1", "detail-type": "Parameter Store Change"});
        sinks.emit(event.clone());
        let got = tokio::time::timeout(Duration::from_secs(10), seen.recv()).await.expect("no delivery in time");
        assert_eq!(got, Some(Seen::Body(event.to_string().into_bytes())));
    }

    #[tokio::test]
    async fn https_webhooks_refuse_a_certificate_no_trusted_ca_issued() {
        let (url, _, mut seen) = https_receiver().await;
        // Only Mozilla's roots and the system bundle: the throwaway CA is not among them.
        let sinks = start(None, std::slice::from_ref(&url), None).unwrap();
        sinks.emit(serde_json::json!({"id": "e-2"}));
        let got = tokio::time::timeout(Duration::from_secs(10), seen.recv()).await.expect("no attempt in time");
        assert_eq!(got, Some(Seen::HandshakeFailed));
    }

    #[test]
    fn an_unreadable_event_webhook_ca_file_is_refused_at_start() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _guard = rt.enter();
        let err = start(None, &["https://localhost:9/".into()], Some(Path::new("/nonexistent/ca.pem")))
            .map(|_| ())
            .unwrap_err();
        assert!(err.contains("--event-webhook-ca-file"), "{err}");
    }

    #[test]
    fn only_http_and_https_webhooks_are_accepted() {
        assert!(check_webhooks(&["http://127.0.0.1:9/hook".into()]).is_ok());
        assert!(check_webhooks(&["https://example.invalid/".into()]).is_ok());
        assert!(check_webhooks(&["ftp://example.invalid/".into()]).is_err());
        assert!(check_webhooks(&["not a url".into()]).is_err());
    }
}
