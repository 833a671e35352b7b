//! Event sinks: an append-only JSON-lines file and HTTP webhooks. `emit` only queues; a
//! background worker per sink delivers. A full queue drops the event with a warning rather
//! than slow or fail an API call.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
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

/// Checks the webhook URLs (plain http only: TLS for webhooks is not built in).
pub fn check_webhooks(urls: &[String]) -> Result<(), String> {
    for u in urls {
        let uri: hyper::Uri = u.parse().map_err(|_| format!("--event-webhook {u}: not a URL"))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(format!("--event-webhook {u}: only http:// URLs are supported"));
        }
    }
    Ok(())
}

/// Starts the workers (must run inside the tokio runtime) and returns the sink to give SSM.
pub fn start(file: Option<PathBuf>, webhooks: &[String]) -> Sinks {
    let mut queues = Vec::new();
    if let Some(path) = file {
        let (tx, rx) = mpsc::channel(QUEUE);
        queues.push((path.display().to_string(), tx));
        tokio::task::spawn_blocking(move || write_file(path, rx));
    }
    let secret = std::env::var("TRENT_EVENT_WEBHOOK_SECRET").ok().filter(|s| !s.is_empty()).map(Zeroizing::new);
    for url in webhooks {
        let (tx, rx) = mpsc::channel(QUEUE);
        queues.push((url.clone(), tx));
        tokio::spawn(deliver(url.clone(), secret.clone(), rx));
    }
    Sinks { queues }
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

async fn deliver(url: String, secret: Option<Zeroizing<String>>, mut rx: mpsc::Receiver<Value>) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
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

    #[test]
    fn only_http_webhooks_are_accepted() {
        assert!(check_webhooks(&["http://127.0.0.1:9/hook".into()]).is_ok());
        assert!(check_webhooks(&["https://example.invalid/".into()]).is_err());
        assert!(check_webhooks(&["not a url".into()]).is_err());
    }
}
