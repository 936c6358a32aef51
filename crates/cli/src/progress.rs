//! The one progress-bar builder of the command line: long jobs (ingestion, pyramid builds,
//! catalog jobs) show on stderr what they do, how far they are and how long is left.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar on stderr: `what` (an indicatif key such as `{msg}`, or a word), then
/// done/total, bar, percentage, elapsed time and estimate.
pub(crate) fn bar(what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what} {{pos}}/{{len}} [{{bar:40}}] {{percent}}% {{elapsed}} (eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

/// A progress bar of slabs.
pub(crate) fn slabs() -> ProgressBar {
    bar("slabs")
}
