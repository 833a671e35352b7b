//! What `trent-bench run` writes (one JSON file per server) and `trent-bench report` reads.

use crate::runner::Measured;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetRun {
    /// `trent`, `baseline` or `moto`.
    pub target: String,
    pub endpoint: String,
    pub concurrency: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub client_threads: usize,
    /// Set when every load of this run was paced at a fixed rate (`--rate`).
    pub rate: Option<f64>,
    pub started_utc: String,
    /// How the run was placed on CPUs (`bench/run --pinned`), `None` when nothing was pinned.
    #[serde(default)]
    pub pinning: Option<String>,
    /// Who signed the loads: `root` (the account root: no policy is evaluated for it where
    /// there is no resource policy) or `iam-user`.
    #[serde(default)]
    pub principal: Option<String>,
    /// The ARN the server reported for the load user's key (`sts:GetCallerIdentity`).
    #[serde(default)]
    pub principal_arn: Option<String>,
    pub loads: Vec<LoadRun>,
    /// The latency check at a fraction of the measured peak (`--paced-check`), or the same
    /// rate on a control server (`--paced-control`).
    pub paced: Option<PacedRun>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadRun {
    pub id: String,
    pub title: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Measured(Measured),
    /// Setup (or the probe request) failed with this error code.
    Unavailable {
        setup_error: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PacedRun {
    pub load: String,
    pub fraction: f64,
    /// The peak of the --paced-check server (for a control server too: it is paced at the
    /// checked server's rate, not at a fraction of its own).
    pub peak_rps: f64,
    pub target_rps: f64,
    pub measured: Measured,
}

impl TargetRun {
    pub fn load(&self, id: &str) -> Option<&LoadRun> {
        self.loads.iter().find(|l| l.id == id)
    }
    pub fn measured(&self, id: &str) -> Option<&Measured> {
        match &self.load(id)?.outcome {
            Outcome::Measured(m) => Some(m),
            Outcome::Unavailable { .. } => None,
        }
    }
}
