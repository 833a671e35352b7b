//! trent-bench: the load generator for trentd, the HTTP baseline and moto (see bench/README.md).
//!
//! * `trent-bench run`    — runs the loads against one or more servers, interleaved load by
//!   load (so a change in background load hits every server alike), and writes one
//!   `<out-dir>/<server>.json` per server.
//! * `trent-bench report` — merges trent.json, baseline.json, nginx.json, moto.json (and the
//!   RSS run's rss.json) into bench/README.md.
//! * `trent-bench loads`  — prints the table of loads.
//!
//! `bench/run` drives all three; use these directly only to poke at one server.

mod client;
mod iam;
mod loads;
mod procstat;
mod report;
mod results;
mod runner;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "trent-bench", about = "Load generator for trentd and its peers (loopback only)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs loads against one server and writes the results as JSON.
    Run(RunArgs),
    /// Regenerates the results (and loads) sections of README.md from a results directory.
    Report {
        /// Directory holding trent.json, baseline.json, nginx.json, moto.json and rss.json (any
        /// may be missing).
        #[arg(long)]
        results: PathBuf,
        /// The README to update in place.
        #[arg(long)]
        readme: PathBuf,
        /// The git work tree whose commit is recorded.
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// Also regenerate the micro-benchmark table from this Criterion output directory.
        #[arg(long)]
        criterion: Option<PathBuf>,
    },
    /// Prints the loads table.
    Loads,
}

#[derive(clap::Args)]
struct RunArgs {
    /// A server to load: `NAME=URL` or `NAME=URL@PID` (PID for its CPU seconds and peak RSS);
    /// several nodes of one deployment as `NAME=URL,URL@PID+PID` (calls spread round-robin),
    /// e.g. `trent=http://127.0.0.1:41234@5678`. Repeat for several; each load runs against
    /// each server in the order given before the next load starts. Loopback URLs only.
    #[arg(long = "server", required = true)]
    servers: Vec<String>,
    /// Servers that get placeholders instead of setup (the baseline answers everything alike).
    #[arg(long, value_delimiter = ',')]
    placeholders: Vec<String>,
    /// Comma-separated load ids (default: every load). See `trent-bench loads`.
    #[arg(long, value_delimiter = ',')]
    loads: Vec<String>,
    /// Connections (and requests in flight).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Measured seconds per load.
    #[arg(long, default_value_t = 8.0)]
    duration: f64,
    /// Unmeasured seconds before each load's measurement.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// Pace every load at this many requests per second instead of running closed-loop.
    #[arg(long)]
    rate: Option<f64>,
    /// `SERVER:LOAD`: after that load's closed-loop run on that server, run it again paced at
    /// --paced-fraction of the rate it reached (the p99-at-half-peak check).
    #[arg(long)]
    paced_check: Option<String>,
    #[arg(long, default_value_t = 0.5)]
    paced_fraction: f64,
    /// Servers (e.g. the baseline) that run the paced load at the SAME rate as the
    /// --paced-check server, as a control: what latency this client and machine give at that
    /// rate when the server does almost nothing. List them after the checked server.
    #[arg(long, value_delimiter = ',')]
    paced_control: Vec<String>,
    /// Directory for the JSON results, one `<server>.json` per server.
    #[arg(long)]
    out_dir: PathBuf,
    #[arg(long, env = "TRENT_BENCH_ACCESS_KEY_ID", default_value = "AKIAIOSFODNN7EXAMPLE")]
    access_key_id: String,
    #[arg(
        long,
        env = "TRENT_BENCH_SECRET_ACCESS_KEY",
        default_value = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        hide_default_value = true
    )]
    secret_access_key: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Who signs the loads: `root` (the keys above, the account root) or `iam-user` (an IAM user
    /// made in setup through the IAM API with those keys, allowed exactly the actions the loads
    /// send; its identity policy and, for KMS, the key policy are evaluated on every request).
    /// Setup (keys, parameters, secrets) is always done as the root.
    #[arg(long, value_enum, default_value_t = Principal::Root)]
    principal: Principal,
    /// How the run is placed on CPUs, recorded in the results (e.g. by `bench/run --pinned`).
    #[arg(long)]
    pinning: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Principal {
    Root,
    IamUser,
}

impl Principal {
    fn name(self) -> &'static str {
        match self {
            Principal::Root => "root",
            Principal::IamUser => "iam-user",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Run(a) => run(a),
        Cmd::Report { results, readme, repo, criterion } => report::Runs::read(&results).and_then(|runs| {
            let m = report::Machine::probe(&repo);
            let text = report::write_readme(&readme, &runs, &m, criterion.as_deref())?;
            println!("{text}");
            Ok(())
        }),
        Cmd::Loads => {
            print!("{}", report::render_loads());
            Ok(())
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trent-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Server {
    name: String,
    pid: Option<u32>,
    /// Signs as the account root: setup.
    admin: Arc<client::Client>,
    /// Signs as the load principal: probes and loads.
    client: Arc<client::Client>,
    /// Set when the load principal could not be made: every load is then `n/a` with it.
    principal_error: Option<String>,
    fixtures: loads::Fixtures,
    results: results::TargetRun,
}

fn parse_server(spec: &str) -> Result<(String, String, Option<u32>), String> {
    let (name, rest) = spec.split_once('=').ok_or_else(|| format!("--server {spec:?}: expected NAME=URL[@PID]"))?;
    // Several nodes: `URL,URL@PID+PID`. Their CPU is not attributed (no single server PID).
    let (url, pid) = match rest.rsplit_once('@') {
        Some((u, p)) => {
            let pids = p
                .split('+')
                .map(|p| p.parse::<u32>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| format!("--server {spec:?}: bad PID"))?;
            (u, if pids.len() == 1 { Some(pids[0]) } else { None })
        }
        None => (rest, None),
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(format!("--server {spec:?}: the name must be letters, digits, - or _"));
    }
    Ok((name.to_string(), url.to_string(), pid))
}

fn run(a: RunArgs) -> Result<(), String> {
    let selected: Vec<&'static loads::Load> = if a.loads.is_empty() {
        loads::LOADS.iter().collect()
    } else {
        a.loads
            .iter()
            .map(|id| loads::find(id).ok_or_else(|| format!("unknown load {id:?} (see `trent-bench loads`)")))
            .collect::<Result<_, _>>()?
    };
    let specs: Vec<(String, String, Option<u32>)> =
        a.servers.iter().map(|s| parse_server(s)).collect::<Result<_, _>>()?;
    let paced: Option<(String, String)> = match &a.paced_check {
        None => None,
        Some(pc) => {
            let (srv, load) =
                pc.split_once(':').ok_or_else(|| format!("--paced-check {pc:?}: expected SERVER:LOAD"))?;
            loads::find(load).ok_or_else(|| format!("unknown load {load:?} in --paced-check"))?;
            Some((srv.to_string(), load.to_string()))
        }
    };
    if a.concurrency == 0 || a.duration <= 0.0 || a.duration > 600.0 || a.warmup < 0.0 || a.warmup > 60.0 {
        return Err("need --concurrency ≥ 1, 0 < --duration ≤ 600, 0 ≤ --warmup ≤ 60".into());
    }
    if !(0.0..=1.0).contains(&a.paced_fraction) || a.rate.is_some_and(|r| r <= 0.0 || r > 1e6) {
        return Err("need 0 ≤ --paced-fraction ≤ 1 and 0 < --rate ≤ 1000000".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.client_threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let now = time::OffsetDateTime::now_utc();
    let started_utc = now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let run_id = format!("{}-{}", now.unix_timestamp(), std::process::id());
    let creds = || client::Credentials {
        access_key_id: a.access_key_id.clone(),
        secret_access_key: a.secret_access_key.clone(),
        region: a.region.clone(),
    };
    let plan = runner::Plan {
        concurrency: a.concurrency,
        warmup: Duration::from_secs_f64(a.warmup),
        duration: Duration::from_secs_f64(a.duration),
        rate: a.rate,
        server_pid: None,
    };
    let servers = rt.block_on(async {
        let mut servers = Vec::new();
        for (name, endpoint, pid) in specs {
            let placeholders = a.placeholders.contains(&name);
            let admin = client::Client::new(&endpoint, creds(), a.concurrency)?;
            let mut fixtures = loads::Fixtures::new(run_id.clone(), placeholders);
            let (mut load_client, mut principal_arn, mut principal_error) = (None, None, None);
            if a.principal == Principal::IamUser && !placeholders {
                let user = format!("trent-bench-{run_id}");
                match iam::create_load_user(&admin, &user, &loads::iam_actions(), &a.region).await {
                    Ok((c, u)) => {
                        eprintln!(
                            "[{name}] loads signed by IAM user {user} ({}, key {})",
                            u.caller_arn, u.creds.access_key_id
                        );
                        load_client = Some(c);
                        principal_arn = Some(u.caller_arn);
                        fixtures.check_key_policies();
                    }
                    Err(e) => {
                        eprintln!("[{name}] no load user: {e}");
                        principal_error = Some(e);
                    }
                }
            }
            let admin = Arc::new(admin);
            servers.push(Server {
                client: load_client.map(Arc::new).unwrap_or_else(|| admin.clone()),
                admin,
                principal_error,
                fixtures,
                results: results::TargetRun {
                    target: name.clone(),
                    endpoint: endpoint.clone(),
                    concurrency: a.concurrency,
                    warmup_s: a.warmup,
                    duration_s: a.duration,
                    client_threads: a.client_threads,
                    rate: a.rate,
                    started_utc: started_utc.clone(),
                    pinning: a.pinning.clone(),
                    // The baseline and nginx check no signature: nobody is evaluated there.
                    principal: (!placeholders).then(|| a.principal.name().to_string()),
                    principal_arn,
                    loads: Vec::new(),
                    paced: None,
                },
                name,
                pid,
            });
        }
        // The paced rate found by the --paced-check server, for the control servers after it.
        let mut paced_rate: Option<(f64, f64)> = None;
        for load in &selected {
            for srv in servers.iter_mut() {
                run_one(srv, load, &plan, &a, paced.as_ref(), &mut paced_rate).await;
            }
        }
        Ok::<_, String>(servers)
    })?;
    std::fs::create_dir_all(&a.out_dir).map_err(|e| format!("{}: {e}", a.out_dir.display()))?;
    for srv in servers {
        let path = a.out_dir.join(format!("{}.json", srv.name));
        let json = serde_json::to_vec_pretty(&srv.results).map_err(|e| e.to_string())?;
        std::fs::write(&path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// One load against one server: setup and probe, the closed-loop (or --rate) run, and the
/// paced check if this is the server and load it names.
async fn run_one(
    srv: &mut Server,
    load: &loads::Load,
    plan: &runner::Plan,
    a: &RunArgs,
    paced: Option<&(String, String)>,
    paced_rate: &mut Option<(f64, f64)>,
) {
    let plan = runner::Plan { server_pid: srv.pid, ..plan.clone() };
    let prepared = match &srv.principal_error {
        Some(e) => Err(e.clone()),
        None => prepare(&srv.admin, &srv.client, &mut srv.fixtures, load).await,
    };
    let outcome = match prepared {
        Err(code) => {
            eprintln!("[{}] {:<20} n/a (setup: {code})", srv.name, load.id);
            results::Outcome::Unavailable { setup_error: code }
        }
        Ok(calls) => {
            let calls = Arc::new(calls);
            let schedule = Arc::new(loads::schedule(load.mix));
            let m = runner::run(srv.client.clone(), calls.clone(), schedule.clone(), &plan).await;
            eprintln!("[{}] {:<20} {}", srv.name, load.id, line(&m));
            let on_load = paced.is_some_and(|(_, l)| l == load.id) && a.rate.is_none();
            let checked = on_load && paced.is_some_and(|(s, _)| *s == srv.name);
            let control = on_load && a.paced_control.contains(&srv.name);
            // (peak of the checked server, target rate)
            let rate = if checked && m.rps > 0.0 {
                let r = (m.rps, m.rps * a.paced_fraction);
                *paced_rate = Some(r);
                Some(r)
            } else if control {
                *paced_rate
            } else {
                None
            };
            if let Some((peak_rps, target_rps)) = rate {
                let paced_plan = runner::Plan { rate: Some(target_rps), ..plan.clone() };
                let p = runner::run(srv.client.clone(), calls, schedule, &paced_plan).await;
                eprintln!("[{}] {:<20} paced at {target_rps:.0} req/s: {}", srv.name, load.id, line(&p));
                srv.results.paced = Some(results::PacedRun {
                    load: load.id.to_string(),
                    fraction: a.paced_fraction,
                    peak_rps,
                    target_rps,
                    measured: p,
                });
            }
            results::Outcome::Measured(m)
        }
    };
    srv.results.loads.push(results::LoadRun { id: load.id.to_string(), title: load.title.to_string(), outcome });
}

/// Setup for one load (as `admin`), then one probe request per call of its mix (as the load
/// principal, `client`): both must succeed.
async fn prepare(
    admin: &client::Client,
    client: &client::Client,
    fx: &mut loads::Fixtures,
    load: &loads::Load,
) -> Result<Vec<loads::Template>, String> {
    fx.prepare(admin, load).await?;
    let calls: Vec<loads::Template> = load.mix.iter().map(|(_, c)| c.template(fx)).collect();
    for t in &calls {
        loads::expect_ok(client.call(t.target, t.service, t.body.clone()).await)?;
    }
    Ok(calls)
}

fn line(m: &runner::Measured) -> String {
    format!(
        "{:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  errors {}  server CPU {}  RSS {} (peak {})  client CPU {}",
        m.rps,
        m.p50_ms,
        m.p99_ms,
        m.p999_ms,
        m.errors,
        m.server_cpu_s.map(|c| format!("{c:.2} s")).unwrap_or_else(|| "—".into()),
        match (m.server_rss_start_kib, m.server_rss_end_kib) {
            (Some(a), Some(b)) => format!("{:.1} → {:.1} MiB", a as f64 / 1024.0, b as f64 / 1024.0),
            _ => "—".into(),
        },
        m.server_peak_rss_kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0)).unwrap_or_else(|| "—".into()),
        m.client_cpu_s.map(|c| format!("{c:.2} s")).unwrap_or_else(|| "—".into()),
    )
}
