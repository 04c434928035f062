//! Writing a report: `report.json`, `report.md` and `report.html` in a directory of their own
//! under `reports/`.

use std::path::{Path, PathBuf};

use super::report::Report;
use super::{html, markdown};

/// The directory name under `reports/`: `<UTC time>-<scenario>`.
fn directory_name(report: &Report) -> String {
    let stamp: String = report
        .run
        .started_at
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(14)
        .collect();
    format!("{stamp}-{}", report.run.scenario)
}

/// Writes `report.json`, `report.md` and `report.html` under
/// `reports/<time>-<scenario>/`; returns the directory.
pub fn write(report: &Report, reports: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(reports)?;
    // Two runs in one second get their own directories.
    let name = directory_name(report);
    let mut dir = reports.join(&name);
    let mut n = 1;
    while std::fs::create_dir(&dir).is_err() {
        n += 1;
        dir = reports.join(format!("{name}-{n}"));
        if n > 1000 {
            return Err(std::io::Error::other(format!(
                "cannot create {}",
                dir.display()
            )));
        }
    }
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("report.json"), json)?;
    std::fs::write(dir.join("report.md"), markdown::render(report))?;
    std::fs::write(dir.join("report.html"), html::page(report))?;
    Ok(dir)
}
