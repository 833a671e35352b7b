#![forbid(unsafe_code)]

use clap::Parser;
use std::process::ExitCode;
use trent_server::config::Config;

fn main() -> ExitCode {
    // `trentd admin …`: offline maintenance (break-glass), see trent_server::admin.
    if std::env::args_os().nth(1).is_some_and(|a| a == "admin") {
        return trent_server::admin::main();
    }
    let config = Config::parse();
    let filter = std::env::var("TRENT_LOG").unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.log_format == "json" {
        logs.json().with_current_span(false).init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("trentd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trentd: {e}");
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
    let listener = trent_server::serve::bind(config.listen).await?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let ready_file = config.ready_file.clone();
    let tls_files = trent_server::tls::files(&config)?;
    let app = tokio::task::spawn_blocking(move || trent_server::build(config)).await.map_err(|e| e.to_string())??;
    trent_server::spawn_scheduler(app.clone());
    let scheme = if tls_files.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{addr}");
    let router = trent_server::http::router(app.clone());
    let tls = match tls_files {
        Some(files) => {
            let tls = trent_server::tls::load(&files).await?;
            trent_server::tls::watch(files, tls.clone());
            Some(tls)
        }
        None => None,
    };
    announce(&url, &app, ready_file.as_deref())?;
    tracing::info!(
        max_connections = limits.max_connections,
        open_file_limit = ?file_limit,
        "connection limits"
    );
    let served = trent_server::serve::serve(listener, router, tls, limits, shutdown()).await;
    // Sign what the trail holds so far; later requests (none, once serving stopped) would be refused.
    let a = app.clone();
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
fn announce(url: &str, app: &trent_server::App, ready_file: Option<&std::path::Path>) -> Result<(), String> {
    tracing::info!(%url, data_dir = %app.config.data_dir.display(), "trentd listening");
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
