//! What the manager reads off the kiosk: the day report, the CSV export of ratings, and
//! the kiosk's own settings.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, FixedOffset, SecondsFormat, Timelike, Utc};
use rusqlite::{params, OptionalExtension};

use super::{Result, Store, StoreError};
use crate::refusal::Refusal;
use crate::regulars::{DayReport, LatestComment, LocalSettings};

/// How many reasons and comments the day report lists.
const REPORT_TOP: usize = 5;

/// The `settings` key the local settings are stored under, as one JSON document.
const LOCAL_SETTINGS_KEY: &str = "local";

/// A rating as a report or export reads it.
struct ReportRow {
    at: DateTime<FixedOffset>,
    touchpoint: String,
    scale: u8,
    score: u8,
    reasons: Vec<String>,
    comment: Option<String>,
    suspected_repeat: bool,
}

fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One CSV field, quoted as RFC 4180 asks when it holds a comma, quote or line break.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// A customer's comment as a CSV field. A leading `=`, `+`, `-` or `@` would make a
/// spreadsheet run it as a formula, so such comments get a leading apostrophe.
fn comment_field(comment: &str) -> String {
    if comment.starts_with(['=', '+', '-', '@']) {
        csv_field(&format!("'{comment}"))
    } else {
        csv_field(comment)
    }
}

impl ReportRow {
    fn csv_line(&self) -> String {
        let fields = [
            csv_field(&self.at.to_rfc3339_opts(SecondsFormat::Secs, false)),
            csv_field(&self.touchpoint),
            self.scale.to_string(),
            self.score.to_string(),
            csv_field(&self.reasons.join(";")),
            comment_field(self.comment.as_deref().unwrap_or("")),
            self.suspected_repeat.to_string(),
        ];
        format!("{}\r\n", fields.join(","))
    }
}

/// The error for a file that cannot be written, in words a manager can act on.
fn export_error(dir: &Path, e: &std::io::Error) -> StoreError {
    let dir = dir.to_owned();
    StoreError::Refused(match e.kind() {
        std::io::ErrorKind::NotFound => Refusal::ExportFolderMissing(dir),
        std::io::ErrorKind::PermissionDenied => Refusal::ExportNotAllowed(dir),
        _ => Refusal::ExportFailed(dir, e.to_string()),
    })
}

impl Store {
    /// Ratings made in `[from, to)`, oldest first.
    fn report_rows(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<ReportRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT recorded_at, utc_offset_minutes, touchpoint, scale, score, reasons, comment,
                    suspected_repeat
             FROM ratings WHERE recorded_at >= ?1 AND recorded_at < ?2
             ORDER BY recorded_at, seq",
        )?;
        let rows = stmt.query_map(params![time_text(from), time_text(to)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i32>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u8>(3)?,
                r.get::<_, u8>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, bool>(7)?,
            ))
        })?;
        rows.map(|row| {
            let (at, offset, touchpoint, scale, score, reasons, comment, suspected_repeat) = row?;
            let corrupt = |e: String| StoreError::Corrupt(format!("rating at {at}: {e}"));
            let offset = FixedOffset::east_opt(offset * 60)
                .ok_or_else(|| corrupt(format!("offset {offset} minutes")))?;
            Ok(ReportRow {
                at: DateTime::parse_from_rfc3339(&at)
                    .map_err(|e| corrupt(e.to_string()))?
                    .with_timezone(&offset),
                touchpoint,
                scale,
                score,
                reasons: serde_json::from_str(&reasons).map_err(|e| corrupt(e.to_string()))?,
                comment,
                suspected_repeat,
            })
        })
        .collect()
    }

    /// Writes ratings made in `[from, to)` to a CSV file at `path`, header first, and
    /// returns how many rows it wrote. The file appears whole or not at all: it is written
    /// beside `path` under a temporary name, then renamed.
    pub fn export_csv(&self, path: &Path, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<u64> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => std::path::PathBuf::from("."),
        };
        let name = path
            .file_name()
            .ok_or(StoreError::Refused(Refusal::ExportNoFileName))?;
        if !dir.is_dir() {
            let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
            return Err(export_error(&dir, &missing));
        }
        let rows = self.report_rows(from, to)?;
        let temp = dir.join(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            uuid::Uuid::now_v7().simple()
        ));
        let written = write_csv(&temp, &rows).and_then(|()| std::fs::rename(&temp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(export_error(&dir, &e));
        }
        Ok(rows.len() as u64)
    }

    /// The manager's report for `[from, to)`: the summary, ratings by local hour, the top
    /// reasons and the latest comments, suspected repeats left out throughout.
    pub fn day_report(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<DayReport> {
        let mut report = DayReport {
            summary: self.summary(from, to)?,
            ..DayReport::default()
        };
        let rows: Vec<ReportRow> = self
            .report_rows(from, to)?
            .into_iter()
            .filter(|r| !r.suspected_repeat)
            .collect();
        let mut reasons: std::collections::HashMap<&str, u64> = Default::default();
        for row in &rows {
            if let Some(slot) = report.by_hour.get_mut(row.at.hour() as usize) {
                *slot += 1;
            }
            for reason in &row.reasons {
                *reasons.entry(reason).or_default() += 1;
            }
        }
        let mut top: Vec<(String, u64)> = reasons
            .into_iter()
            .map(|(r, n)| (r.to_owned(), n))
            .collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(REPORT_TOP);
        report.top_reasons = top;
        report.latest_comments = rows
            .iter()
            .rev()
            .filter_map(|r| {
                let text = r.comment.as_deref()?.trim();
                (!text.is_empty()).then(|| LatestComment {
                    at: r.at,
                    score: r.score,
                    text: text.to_owned(),
                })
            })
            .take(REPORT_TOP)
            .collect();
        Ok(report)
    }

    /// The kiosk's own settings (all unset until the manager changes one).
    pub fn local_settings(&self) -> Result<LocalSettings> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                [LOCAL_SETTINGS_KEY],
                |r| r.get(0),
            )
            .optional()?;
        match json {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("local settings: {e}"))),
            None => Ok(LocalSettings::default()),
        }
    }

    pub fn set_local_settings(&mut self, settings: &LocalSettings) -> Result<()> {
        let json =
            serde_json::to_string(settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.conn.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
            params![LOCAL_SETTINGS_KEY, json],
        )?;
        Ok(())
    }
}

/// Writes the CSV to `path` (a new file) and syncs it to disk.
fn write_csv(path: &Path, rows: &[ReportRow]) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    let mut out = std::io::BufWriter::new(file);
    out.write_all(b"local_time,touchpoint,scale,score,reasons,comment,suspected_repeat\r\n")?;
    for row in rows {
        out.write_all(row.csv_line().as_bytes())?;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feedback::{Comment, Details, ReasonSlug, Scale, Score};
    use crate::store::{temp_store, NewRating};
    use chrono::TimeZone;

    fn at(hour: u32, minute: u32) -> DateTime<FixedOffset> {
        FixedOffset::east_opt(7 * 3600)
            .unwrap()
            .with_ymd_and_hms(2026, 11, 23, hour, minute, 0)
            .unwrap()
    }

    fn rate(
        store: &mut Store,
        when: DateTime<FixedOffset>,
        score: i64,
        reasons: &[&str],
        comment: Option<&str>,
        repeat: bool,
    ) {
        let rating = NewRating {
            score: Score::new(score, Scale::FIVE).unwrap(),
            touchpoint: countertop_protocol::Touchpoint::new("visit").unwrap(),
            survey_version: 1,
            suspected_repeat: repeat,
            at: when,
        };
        let id = store.record_rating(&rating).unwrap().id;
        let details = Details {
            reasons: reasons
                .iter()
                .map(|r| ReasonSlug::new(*r).unwrap())
                .collect(),
            comment: comment.and_then(Comment::typed),
            nps: None,
        };
        store.attach_details(id, &details, when).unwrap();
    }

    fn day() -> (DateTime<Utc>, DateTime<Utc>) {
        let from = at(0, 0).with_timezone(&Utc);
        (from, from + chrono::Duration::days(1))
    }

    #[test]
    fn the_day_report_counts_by_local_hour_and_lists_top_reasons_and_latest_comments() {
        let (_dir, mut store) = temp_store();
        rate(
            &mut store,
            at(8, 5),
            5,
            &["tasty", "fast_service"],
            Some("Lovely"),
            false,
        );
        rate(
            &mut store,
            at(8, 40),
            1,
            &["slow_service"],
            Some("  "),
            false,
        );
        rate(
            &mut store,
            at(9, 0),
            2,
            &["slow_service", "price"],
            Some("Too slow"),
            false,
        );
        rate(
            &mut store,
            at(9, 1),
            1,
            &["slow_service"],
            Some("repeat!"),
            true,
        );
        for minute in 0..6 {
            rate(
                &mut store,
                at(15, minute),
                4,
                &[],
                Some(&format!("c{minute}")),
                false,
            );
        }
        let (from, to) = day();
        let report = store.day_report(from, to).unwrap();
        assert_eq!(report.summary.count, 9);
        assert_eq!(report.by_hour[8], 2);
        assert_eq!(report.by_hour[9], 1, "the suspected repeat is left out");
        assert_eq!(report.by_hour[15], 6);
        assert_eq!(report.by_hour.iter().sum::<u64>(), 9);
        assert_eq!(report.top_reasons[0], ("slow_service".to_string(), 2));
        assert_eq!(report.top_reasons.len(), 4);
        let texts: Vec<&str> = report
            .latest_comments
            .iter()
            .map(|c| c.text.as_str())
            .collect();
        assert_eq!(texts, ["c5", "c4", "c3", "c2", "c1"]);
        assert_eq!(report.latest_comments[0].at, at(15, 5));
        assert_eq!(report.latest_comments[0].score, 4);
    }

    #[test]
    fn the_csv_export_quotes_as_rfc_4180_and_keeps_local_time() {
        let (dir, mut store) = temp_store();
        rate(
            &mut store,
            at(8, 5),
            2,
            &["slow_service", "price"],
            Some("Slow, and \"cold\"\nagain"),
            false,
        );
        rate(&mut store, at(9, 0), 5, &[], Some("=HYPERLINK(1)"), true);
        rate(
            &mut store,
            at(1, 0) - chrono::Duration::days(1),
            5,
            &[],
            None,
            false,
        );
        let path = dir.path().join("export.csv");
        let (from, to) = day();
        assert_eq!(store.export_csv(&path, from, to).unwrap(), 2);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "local_time,touchpoint,scale,score,reasons,comment,suspected_repeat"
        );
        assert_eq!(
            lines[1],
            "2026-11-23T08:05:00+07:00,visit,5,2,slow_service;price,\"Slow, and \"\"cold\"\"\nagain\",false"
        );
        assert_eq!(
            lines[2],
            "2026-11-23T09:00:00+07:00,visit,5,5,,'=HYPERLINK(1),true"
        );
        assert_eq!(lines[3], "");
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn exporting_to_a_missing_folder_says_so() {
        let (dir, store) = temp_store();
        let (from, to) = day();
        let err = store
            .export_csv(&dir.path().join("nowhere/export.csv"), from, to)
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::Refused(Refusal::ExportFolderMissing(_))
        ));
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn local_settings_are_stored_and_read_back() {
        let (_dir, mut store) = temp_store();
        assert_eq!(store.local_settings().unwrap(), LocalSettings::default());
        let settings = LocalSettings {
            default_language: Some("vi".into()),
            idle_secs: Some(45.0),
            remember_me: Some(false),
        };
        store.set_local_settings(&settings).unwrap();
        assert_eq!(store.local_settings().unwrap(), settings);
    }
}
