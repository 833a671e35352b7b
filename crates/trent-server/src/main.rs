#![forbid(unsafe_code)]

use std::process::ExitCode;
use trent_server::config::Config;

fn main() -> ExitCode {
    // `trentd admin …`: offline maintenance (break-glass), see trent_server::admin.
    if std::env::args_os().nth(1).is_some_and(|a| a == "admin") {
        return trent_server::admin::main();
    }
    // `trentd completions SHELL`, `trentd man`: generated from the flags below.
    match std::env::args_os().nth(1).as_ref().and_then(|a| a.to_str()) {
        Some("completions") => return completions(std::env::args_os().nth(2)),
        Some("man") => return man(),
        _ => {}
    }
    let loaded = match trent_server::config::load(std::env::args_os().collect()) {
        Ok(l) => l,
        Err(Ok(e)) => e.exit(),
        Err(Err(msg)) => {
            eprintln!("trentd: {msg}");
            return ExitCode::from(2);
        }
    };
    if loaded.config.print_config {
        print!("{}", loaded.render());
        return ExitCode::SUCCESS;
    }
    let mut config = loaded.config.clone();
    init_logs(&config);
    // `--dev`: a throwaway server on loopback with well-known credentials.
    let mut dev_dir = None;
    if config.dev {
        if !config.listen.is_loopback_only() {
            eprintln!(
                "trentd: --dev uses the well-known credentials test/test, so it listens on loopback only; \
                 --listen {} is not a loopback address (use e.g. 127.0.0.1:4599, localhost:4599 or 4599)",
                config.listen.text
            );
            return ExitCode::from(2);
        }
        if loaded.source("data-dir") == trent_server::config::Source::Default {
            match tempfile::Builder::new().prefix("trentd-dev-").tempdir() {
                Ok(d) => {
                    config.data_dir = d.path().to_path_buf();
                    dev_dir = Some(d);
                }
                Err(e) => {
                    eprintln!(
                        "trentd: creating a temporary data directory for --dev: {e}; \
                         set TMPDIR to a writable directory or give --data-dir"
                    );
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("trentd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(config));
    drop(runtime);
    // The dev data dir goes once everything that wrote to it has stopped.
    if let Some(d) = dev_dir {
        let path = d.path().display().to_string();
        if let Err(e) = d.close() {
            eprintln!("trentd: could not remove the --dev data directory {path}: {e}");
        }
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trentd: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The log on stderr: TRENT_LOG's filter (default `info`), text or JSON. The HTTP/2, hyper and
/// rustls internals stay at info even under `TRENT_LOG=debug`, unless TRENT_LOG names them.
fn init_logs(config: &Config) {
    let spec = log_filter(&std::env::var("TRENT_LOG").unwrap_or_else(|_| "info".into()));
    let env_filter = tracing_subscriber::EnvFilter::try_new(spec).unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(env_filter).with_writer(std::io::stderr);
    if config.log_format == "json" {
        logs.json().with_current_span(false).init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init();
    }
}

/// TRENT_LOG's filter with the HTTP/2, hyper and rustls internals held at info (their debug
/// output is per frame and per record), unless the filter names them itself.
fn log_filter(spec: &str) -> String {
    let mut out = spec.trim().to_string();
    for noisy in ["h2", "hyper", "hyper_util", "rustls", "tokio_rustls", "axum_server"] {
        let named = out.split(',').any(|d| d.trim().split(['=', '[', ':']).next() == Some(noisy));
        if !named {
            out.push_str(&format!(",{noisy}=info"));
        }
    }
    out.trim_start_matches(',').to_string()
}

/// `trentd completions bash|zsh|fish|elvish|powershell`: the shell completion script on stdout.
fn completions(shell: Option<std::ffi::OsString>) -> ExitCode {
    use clap::ValueEnum;
    let name = shell.as_ref().and_then(|s| s.to_str()).unwrap_or("");
    let Ok(shell) = clap_complete::Shell::from_str(name, true) else {
        eprintln!("usage: trentd completions bash|zsh|fish|elvish|powershell");
        return ExitCode::from(2);
    };
    let mut cmd = <Config as clap::CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "trentd", &mut script);
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
    ExitCode::SUCCESS
}

/// `trentd man`: the manual page (roff) on stdout, e.g. `trentd man > trentd.1`.
fn man() -> ExitCode {
    let cmd = <Config as clap::CommandFactory>::command();
    let mut page = Vec::new();
    match clap_mangen::Man::new(cmd).render(&mut page) {
        Ok(()) => {
            let _ = std::io::Write::write_all(&mut std::io::stdout(), &page);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trentd: writing the manual page: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    // Everything trentd creates (database, WAL, audit trail, keys, logs) is the owner's only.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let file_limit = trent_server::serve::raise_file_limit();
    let limits = trent_server::serve::Limits {
        header_read: std::time::Duration::from_secs(config.header_read_timeout_secs),
        body_read: std::time::Duration::from_secs(config.body_read_timeout_secs),
        idle: std::time::Duration::from_secs(config.idle_timeout_secs),
        max_connections: match config.max_connections {
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            None => trent_server::serve::default_max_connections(file_limit),
        },
    };
    // One trentd per data dir, held until exit; then the port, before anything is bootstrapped
    // (so a port in use fails before an admin key is generated and printed).
    let _lock = trent_server::bootstrap::lock_data_dir(&config.data_dir)?;
    let listeners = bind_all(&config.listen).await?;
    let addr = listeners[0].local_addr().map_err(|e| format!("reading the listening address: {e}"))?;
    let dev = config.dev;
    let ready_file = config.ready_file.clone();
    let tls_files = trent_server::tls::files(&config)?;
    let data_dir = config.data_dir.clone();
    // `--seal`: the root key, or a sealed start (docs/SEAL.md).
    let started =
        tokio::task::spawn_blocking(move || trent_server::seal::start(config)).await.map_err(|e| e.to_string())??;
    if let Some(app) = started.app() {
        trent_server::spawn_scheduler(app);
    }
    let scheme = if tls_files.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{addr}");
    let router = started.router();
    let tls = match tls_files {
        Some(files) => {
            let tls = trent_server::tls::load(&files).await?;
            trent_server::tls::watch(files, tls.clone());
            Some(tls)
        }
        None => None,
    };
    for l in &listeners[1..] {
        if let Ok(a) = l.local_addr() {
            tracing::info!(url = %format!("{scheme}://{a}"), "trentd also listening");
        }
    }
    announce(&url, &data_dir, ready_file.as_deref())?;
    if dev {
        dev_banner(&url, &data_dir, tls.is_some());
    }
    tracing::info!(
        max_connections = limits.max_connections,
        open_file_limit = ?file_limit,
        "connection limits"
    );
    let served = serve_all(listeners, router, tls, limits).await;
    // Sign what the trail holds so far; later requests (none, once serving stopped) would be refused.
    let Some(a) = started.app() else { return served };
    let _ = tokio::task::spawn_blocking(move || {
        a.audit.close();
        // Other nodes stop counting this one at once, not after the heartbeat times out.
        if let Err(e) = trent_server::nodes::leave(&*a.store, &a.node_id) {
            tracing::warn!(error = %e, "could not remove this node's heartbeat");
        }
    })
    .await;
    served
}

/// Logs and prints the URL, and writes it to the ready file.
fn announce(url: &str, data_dir: &std::path::Path, ready_file: Option<&std::path::Path>) -> Result<(), String> {
    tracing::info!(%url, data_dir = %data_dir.display(), "trentd listening");
    println!("trentd listening on {url}");
    if let Some(path) = ready_file {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("{url}\n"))
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

async fn shutdown() {
    let term = async {
        #[cfg(unix)]
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
            return;
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// Binds every address `--listen` stands for. With port 0, the first bound port is used for the
/// others too, so one URL serves them all. `:PORT` binds IPv6 and IPv4 (one dual-stack socket
/// where the system has it), or IPv4 alone on a system without IPv6.
async fn bind_all(listen: &trent_server::config::Listen) -> Result<Vec<tokio::net::TcpListener>, String> {
    let mut out: Vec<tokio::net::TcpListener> = Vec::new();
    for (i, want) in listen.addrs.iter().enumerate() {
        let mut addr = *want;
        if let Some(first) = out.first().and_then(|l| l.local_addr().ok()) {
            if addr.port() == 0 {
                addr.set_port(first.port());
            }
        }
        match trent_server::serve::bind(addr).await {
            Ok(l) => out.push(l),
            // `:PORT` on a dual-stack socket already covers IPv4; a system without IPv6 has only IPv4.
            Err(_) if listen.all_interfaces && (i == 0 || (i == 1 && !out.is_empty())) => {}
            Err(e) => return Err(format!("{e}; choose another --listen address or port, or stop what uses it")),
        }
    }
    if out.is_empty() {
        return Err(format!("cannot listen on {}: no address could be bound", listen.text));
    }
    Ok(out)
}

/// Serves every listener until SIGTERM or Ctrl-C, then lets each drain.
async fn serve_all(
    listeners: Vec<tokio::net::TcpListener>,
    router: axum::Router,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    limits: trent_server::serve::Limits,
) -> Result<(), String> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for l in listeners {
        let mut stopped = stopped.clone();
        let (router, tls) = (router.clone(), tls.clone());
        tasks.spawn(async move {
            let wait = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            trent_server::serve::serve(l, router, tls, limits, wait).await
        });
    }
    let mut result = Ok(());
    tokio::select! {
        _ = shutdown() => {}
        Some(first) = tasks.join_next() => {
            result = first.map_err(|e| e.to_string()).and_then(|r| r);
        }
    }
    let _ = stop.send(true);
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r.map_err(|e| e.to_string()).and_then(|r| r) {
            result = result.and(Err(e));
        }
    }
    result
}

/// `--dev`: what to paste into a shell to use this server.
fn dev_banner(url: &str, data_dir: &std::path::Path, tls: bool) {
    let (id, secret) = trent_server::bootstrap::DEV_ACCESS_KEY;
    let ca =
        if tls { format!(" AWS_CA_BUNDLE={}", data_dir.join("tls").join("cert.pem").display()) } else { String::new() };
    println!(
        "\nDevelopment mode: data in {} (removed at exit unless you gave --data-dir), quotas off,\n\
         admin access key `{id}` with secret `{secret}`. Never expose this server to a network.\n\n\
         Paste this into your shell:\n\n  \
         export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY={secret} AWS_DEFAULT_REGION=us-east-1{ca}\n\n\
         Then try: aws kms create-key\n",
        data_dir.display()
    );
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn debug_logging_keeps_http2_and_tls_internals_at_info_unless_named() {
        let f = log_filter("debug");
        assert!(f.starts_with("debug,") && f.contains(",h2=info") && f.contains(",rustls=info"), "{f}");
        let f = log_filter("debug,h2=trace");
        assert!(f.contains("h2=trace") && !f.contains("h2=info") && f.contains("hyper=info"), "{f}");
        assert!(tracing_subscriber::EnvFilter::try_new(log_filter("trent=debug")).is_ok());
    }
}
