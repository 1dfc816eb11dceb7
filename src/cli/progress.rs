//! The progress bar the command line draws on a terminal (indicatif), fed by the library's
//! [`deadbox::scan::Progress`].

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

/// A progress bar on stderr, when stderr is a terminal: units done, bytes and the rate.
pub struct Bar {
    bar: indicatif::ProgressBar,
    bytes: AtomicU64,
    verb: &'static str,
}

impl Bar {
    pub fn new(verb: &'static str) -> Option<Self> {
        let bar = indicatif::ProgressBar::hidden();
        std::io::stderr().is_terminal().then(|| Bar {
            bar,
            bytes: AtomicU64::new(0),
            verb,
        })
    }
}

impl deadbox::scan::Progress for Bar {
    fn start(&self, _what: &str, total: u64, unit: &str) {
        let template = format!("{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {unit}, {{msg}} ({{per_sec}}, ETA {{eta}})");
        if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
            self.bar.set_style(style);
        }
        self.bar
            .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        self.bar.set_length(total);
        self.bar.set_position(0);
        self.bytes.store(0, Ordering::Relaxed);
        self.bar
            .enable_steady_tick(std::time::Duration::from_millis(250));
    }
    fn advance(&self, units: u64, bytes: u64) {
        self.bar.inc(units);
        let n = self
            .bytes
            .fetch_add(bytes, Ordering::Relaxed)
            .saturating_add(bytes);
        self.bar
            .set_message(format!("{} {}", indicatif::HumanBytes(n), self.verb));
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
