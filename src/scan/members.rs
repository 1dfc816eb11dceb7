//! Zip archives selected by the scan: each member is decompressed (stored or deflate), hashed,
//! checked against the IOC and known-good lists and YARA-scanned (raw and, for web scripts,
//! normalised) as a stream of its own. Its findings name it as `ARCHIVE!/MEMBER` in
//! `location.path` and carry the member's size and hashes in `file` (with the archive file's
//! owner; the times are the archive's, so they are left out). Nested archives are not
//! opened (a zip inside a zip is scanned as bytes, like any member).

use super::{diagnostic, rules, Job, Scan};
use crate::exchange::{self, ArchiveKind};
use crate::finding::detail::{Detail, IocHashDetail};
use crate::finding::{FileFacts, Finding, FindingKind, Location, Severity};
use crate::hash::{digest, Algorithms};

/// Most members of one archive scanned.
pub const MAX_MEMBERS: usize = 10_000;
/// Largest member scanned (decompressed bytes); larger ones are reported, not read.
pub const MAX_MEMBER_BYTES: u64 = 64 << 20;
/// Most decompressed bytes scanned per archive (a zip bomb stops here).
pub const MAX_EXPANDED_BYTES: u64 = 1 << 30;

impl Scan {
    /// The findings of the members of `data` (the stream of `job` at `location`, `archive` its
    /// facts) when it is a zip archive; nothing otherwise.
    pub(super) fn scan_zip_members(
        &self,
        job: &Job<'_>,
        data: &[u8],
        set: Algorithms,
        matcher: &mut rules::Matcher<'_>,
        location: &Location,
        archive: &FileFacts,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        if exchange::archive_kind(data) != Some(ArchiveKind::Zip) {
            return out;
        }
        let entries = match exchange::zip_entries(data) {
            Ok(e) => e,
            Err(e) => {
                out.push(diagnostic(
                    location.clone(),
                    None,
                    &format!("zip members not scanned: {e}"),
                ));
                return out;
            }
        };
        let mut expanded = 0u64;
        let mut skipped = 0usize;
        let mut first_reason = None;
        let files = entries
            .iter()
            .filter(|e| !e.name.ends_with('/') && !e.name.ends_with('\\'));
        for (i, entry) in files.enumerate() {
            if i >= MAX_MEMBERS || expanded >= MAX_EXPANDED_BYTES {
                skipped += 1;
                first_reason.get_or_insert_with(|| {
                    format!("more than {MAX_MEMBERS} members or {MAX_EXPANDED_BYTES} bytes")
                });
                continue;
            }
            let max = MAX_MEMBER_BYTES.min(MAX_EXPANDED_BYTES - expanded);
            let bytes = match exchange::zip_member_data(data, entry, max) {
                Ok(b) => b,
                Err(e) => {
                    skipped += 1;
                    first_reason.get_or_insert_with(|| e.to_string());
                    continue;
                }
            };
            expanded += bytes.len() as u64;
            let mut loc = location.clone();
            loc.path = format!("{}!/{}", location.path, entry.name);
            let d = digest(set, &bytes);
            let facts = FileFacts {
                size: bytes.len() as u64,
                md5: d.md5.clone(),
                sha1: d.sha1.clone(),
                sha256: d.sha256.clone(),
                // The member lives in the archive's file: its owner is the file's.
                owner: archive.owner.clone(),
                owner_name: archive.owner_name.clone(),
                ..FileFacts::default()
            };
            let hashes = [d.sha256.as_deref(), d.sha1.as_deref(), d.md5.as_deref()];
            if self.known_good.lookup(&hashes).is_some() {
                continue;
            }
            if let Some((h, comment)) = self.iocs.lookup(&hashes) {
                out.push(Finding {
                    kind: FindingKind::IocHash,
                    severity: Severity::Critical,
                    title: format!(
                        "hash on IOC list (zip member): {}",
                        if comment.is_empty() { h } else { comment }
                    ),
                    location: loc.clone(),
                    file: Some(facts.clone()),
                    cve: Vec::new(),
                    rule: None,
                    quote: None,
                    detail: Detail::IocHash(IocHashDetail {
                        hash: h.to_string(),
                        comment: comment.to_string(),
                        timestomp: None,
                    }),
                });
            }
            if bytes.is_empty() {
                continue;
            }
            let outcome = matcher.scan(&loc.path, job, &bytes);
            rules::push_findings(
                Some(&outcome),
                false,
                self.cfg.max_in_memory,
                &loc,
                &facts,
                &mut out,
            );
        }
        if skipped > 0 {
            out.push(diagnostic(
                location.clone(),
                None,
                &format!(
                    "{skipped} zip members not scanned (first reason: {})",
                    first_reason.unwrap_or_default()
                ),
            ));
        }
        out
    }
}
