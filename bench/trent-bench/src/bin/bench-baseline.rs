//! bench-baseline: the ceiling for any HTTP service on this machine.
//!
//! A minimal axum server on the same runtime setup as trentd (tokio multi-thread, HTTP/1.1,
//! keep-alive): it reads the whole request body and answers every request with one canned
//! KMS Encrypt response. No SigV4 check, no JSON parsing, no crypto, no storage.
//!
//! `bench-baseline --listen 127.0.0.1:0 --ready-file FILE` writes `http://127.0.0.1:PORT`
//! and a newline to FILE once listening (as trentd does), and stops on SIGTERM or Ctrl-C.
//! `bench-baseline --print-canned` prints the canned answer and exits (bench/run gives the
//! same bytes to nginx, its second ceiling).

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "bench-baseline")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Print the canned answer (no newline) and exit.
    #[arg(long)]
    print_canned: bool,
}

/// What trentd answers to Encrypt of 64 bytes, byte for byte in shape and size.
const CANNED: &str = concat!(
    r#"{"CiphertextBlob":"ASQwMDAwMDAwMC0wMDAwLTQwMDAtODAwMC0wMDAwMDAwMDAwMDCqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqfHx8fHx8fHx8fHx8"#,
    r#"ZGF0YWRhdGFkYXRhZGF0YWRhdGFkYXRhZGF0YWRhdGFkYXRhZGF0YWRhdGFkYXRhZGF0YWRhdGFkYXRhZGF0YWRhdGF0YWd0YWd0YWd0YWd0YQ==","#,
    r#""KeyId":"arn:aws:kms:us-east-1:000000000000:key/00000000-0000-4000-8000-000000000000","#,
    r#""EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}"#
);

async fn handle(req: Request<Body>) -> Response<Body> {
    // Read the whole body, as any real service must before answering.
    let ok = axum::body::to_bytes(req.into_body(), 1 << 20).await.is_ok();
    let mut resp = Response::new(Body::from(CANNED));
    if !ok {
        *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    }
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.1"));
    h.insert("x-amzn-requestid", HeaderValue::from_static("00000000-0000-4000-8000-000000000000"));
    resp
}

async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if args.print_canned {
        print!("{CANNED}");
        return std::process::ExitCode::SUCCESS;
    }
    if !args.listen.ip().is_loopback() {
        eprintln!("bench-baseline: listen on a loopback address only");
        return std::process::ExitCode::FAILURE;
    }
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let r: Result<(), String> = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
        println!("bench-baseline listening on {url}");
        if let Some(path) = &args.ready_file {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, format!("{url}\n"))
                .and_then(|_| std::fs::rename(&tmp, path))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let app = axum::Router::new().fallback(handle);
        axum::serve(listener, app).with_graceful_shutdown(shutdown()).await.map_err(|e| e.to_string())
    });
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-baseline: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
