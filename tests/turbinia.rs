//! deadbox as a Turbinia job (`integrations/turbinia`), on loopback: `tests/loopback.py` starts
//! `redis-server`, a Turbinia server, two Celery workers and the API server on this machine,
//! submits fixture images (raw, E01, VHDX, qcow2, a corrupt one) with this build's `deadbox`,
//! compares every result with `deadbox scan` run by hand and kills a worker process in the
//! middle of a task (the task must be retried or reported failed, never left pending).
//!
//! Needs a Python with `turbinia` (the venv `.ci/run` makes: `DEADBOX_TURBINIA_PYTHON`, default
//! `/var/tmp/deadbox-turbinia-venv/bin/python`) and `redis-server`. Without them the test is
//! skipped with a notice, except under CI=true, where it fails — unless `.ci/run` said why it
//! could not install them (`DEADBOX_NO_TURBINIA`). The script limits itself to 10 minutes.

use std::path::PathBuf;
use std::process::Command;

const DEFAULT_PYTHON: &str = "/var/tmp/deadbox-turbinia-venv/bin/python";

fn integration_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("integrations/turbinia")
}

/// The Python to run the loopback test with, or None (with a notice) when the test is skipped.
fn turbinia_python() -> Option<String> {
    let py = std::env::var("DEADBOX_TURBINIA_PYTHON").unwrap_or_else(|_| DEFAULT_PYTHON.into());
    let imports = Command::new(&py)
        .args([
            "-c",
            "import turbinia, celery, psutil, deadbox_turbinia.job",
        ])
        .env("PYTHONPATH", integration_dir())
        .output();
    let redis = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let missing = match (imports, redis) {
        (Ok(o), true) if o.status.success() => return Some(py),
        (Ok(o), _) if !o.status.success() => format!(
            "{py} cannot import turbinia / deadbox_turbinia: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        (Err(e), _) => format!("{py}: {e}"),
        _ => "redis-server is not installed".to_string(),
    };
    // .ci/run sets this when it could not install Turbinia or Redis (no package registry).
    if let Ok(why) = std::env::var("DEADBOX_NO_TURBINIA") {
        eprintln!("NOTICE: Turbinia not installable ({why}): loopback test skipped ({missing})");
        return None;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "Turbinia loopback test cannot run under CI: {missing}"
    );
    eprintln!("NOTICE: {missing}: Turbinia loopback test skipped");
    None
}

#[test]
fn turbinia_loopback_two_workers_one_killed() {
    let Some(py) = turbinia_python() else {
        return;
    };
    let script = integration_dir().join("tests/loopback.py");
    let out = Command::new(py)
        .arg(&script)
        .args([
            "--deadbox",
            env!("CARGO_BIN_EXE_deadbox"),
            "--timeout",
            "600",
        ])
        .env("PYTHONPATH", integration_dir())
        .output()
        .expect("run loopback.py");
    let said = String::from_utf8_lossy(&out.stdout);
    eprintln!("{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "loopback.py failed: {:?}", out.status);
    assert!(said.contains("loopback: all checks passed"), "{said}");
}
