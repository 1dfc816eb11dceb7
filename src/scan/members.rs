//! Zip archives selected by the scan: each member is decompressed (stored or deflate), hashed,
//! checked against the IOC and known-good lists and YARA-scanned (raw and, for web scripts,
//! normalised) as a stream of its own. Its findings name it as `ARCHIVE!/MEMBER` in
//! `location.path` and carry the member's size and hashes in `file` (with the archive file's
//! owner and `$SI`/`$FN` times: the member lives in that file). A zip inside a zip is opened
//! one level deep (`OUTER!/INNER.zip!/MEMBER`), within the outer archive's bounds; a zip
//! nested deeper is scanned as bytes only, and said so in the archive's diagnostic. Zip bombs
//! are refused without decompressing: members whose data overlap (the construction of
//! non-recursive bombs) or that claim more than [`MAX_RATIO`]:1 compression. A member is
//! decompressed into memory granted by the scan's shared budget (`--max-in-memory`) for the
//! size its directory entry declares, and refused when it turns out larger.

use super::{diagnostic, rules, Job, Scan};
use crate::exchange::{self, ArchiveKind};
use crate::finding::detail::{Detail, IocHashDetail};
use crate::finding::{FileFacts, Finding, FindingKind, Location, Severity};
use crate::hash::{digest, Algorithms};

/// Most members of one archive scanned.
pub const MAX_MEMBERS: usize = 10_000;
/// Largest member scanned (decompressed bytes); larger ones are reported, not read.
pub const MAX_MEMBER_BYTES: u64 = 64 << 20;
/// Most decompressed bytes scanned per archive, nested archive included (a zip bomb stops here).
pub const MAX_EXPANDED_BYTES: u64 = 1 << 30;
/// Highest compression ratio accepted for a member of more than [`RATIO_FLOOR`] bytes: deflate
/// cannot beat about 1,032:1, real files (logs, dumps) stay far below 500:1, bombs sit at the top.
pub const MAX_RATIO: u64 = 500;
/// Members up to this size are never refused for their ratio.
pub const RATIO_FLOOR: u64 = 1 << 20;
/// Zip archives opened inside a zip archive: one level.
pub const MAX_NESTING: usize = 1;

/// What the members of one archive (and of the archives nested in it) have used and skipped.
#[derive(Default)]
struct Walk {
    members: usize,
    expanded: u64,
    skipped: usize,
    first_reason: Option<String>,
    nested_not_opened: usize,
}

impl Walk {
    fn skip(&mut self, reason: impl FnOnce() -> String) {
        self.skipped += 1;
        if self.first_reason.is_none() {
            self.first_reason = Some(reason());
        }
    }
}

/// Whether the members' data overlap in the archive (several directory entries pointing into
/// the same bytes, as in non-recursive zip bombs): the entries' local offsets sorted, each
/// member's compressed bytes must end before the next header starts.
pub(crate) fn members_overlap(entries: &[exchange::ZipEntry]) -> bool {
    let mut spans: Vec<(u64, u64)> = entries
        .iter()
        .filter(|e| !e.name.ends_with('/') && !e.name.ends_with('\\'))
        .map(|e| (e.local_offset, e.compressed_size))
        .collect();
    spans.sort_unstable();
    spans
        .windows(2)
        .any(|w| w[0].0 == w[1].0 || w[0].0.saturating_add(30 + w[0].1) > w[1].0)
}

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
        let mut walk = Walk::default();
        self.walk_zip(
            job, data, set, matcher, location, archive, 0, &mut walk, &mut out,
        );
        if walk.skipped > 0 || walk.nested_not_opened > 0 {
            let mut msg = String::new();
            if walk.skipped > 0 {
                msg = format!(
                    "{} zip members not scanned (first reason: {})",
                    walk.skipped,
                    walk.first_reason.unwrap_or_default()
                );
            }
            if walk.nested_not_opened > 0 {
                if !msg.is_empty() {
                    msg.push_str("; ");
                }
                msg.push_str(&format!(
                    "{} zip archives nested more than {MAX_NESTING} level deep scanned as bytes, their members not opened",
                    walk.nested_not_opened
                ));
            }
            out.push(diagnostic(location.clone(), None, &msg));
        }
        out
    }

    /// The members of the zip `data` (named under `location.path`), `depth` archives deep.
    #[allow(clippy::too_many_arguments)]
    fn walk_zip(
        &self,
        job: &Job<'_>,
        data: &[u8],
        set: Algorithms,
        matcher: &mut rules::Matcher<'_>,
        location: &Location,
        archive: &FileFacts,
        depth: usize,
        walk: &mut Walk,
        out: &mut Vec<Finding>,
    ) {
        let entries = match exchange::zip_entries(data) {
            Ok(e) => e,
            Err(e) => {
                out.push(diagnostic(
                    location.clone(),
                    None,
                    &format!("zip members not scanned: {e}"),
                ));
                return;
            }
        };
        if members_overlap(&entries) {
            out.push(diagnostic(
                location.clone(),
                None,
                "zip members not scanned: their data overlap (the construction of a zip bomb)",
            ));
            return;
        }
        let files = entries
            .iter()
            .filter(|e| !e.name.ends_with('/') && !e.name.ends_with('\\'));
        for entry in files {
            if walk.members >= MAX_MEMBERS || walk.expanded >= MAX_EXPANDED_BYTES {
                walk.skip(|| {
                    format!("more than {MAX_MEMBERS} members or {MAX_EXPANDED_BYTES} bytes")
                });
                continue;
            }
            walk.members += 1;
            if entry.size > RATIO_FLOOR && entry.size / entry.compressed_size.max(1) > MAX_RATIO {
                walk.skip(|| {
                    format!(
                        "{}: {} bytes from {} (more than {MAX_RATIO}:1, a zip bomb?)",
                        entry.name, entry.size, entry.compressed_size
                    )
                });
                continue;
            }
            // The member is decompressed into memory counted in the scan's shared budget, for
            // the size its directory entry declares: one that turns out larger is refused.
            let max = entry
                .size
                .min(MAX_MEMBER_BYTES)
                .min(MAX_EXPANDED_BYTES - walk.expanded);
            if max > self.cfg.max_in_memory {
                walk.skip(|| {
                    format!(
                        "{}: {max} bytes, more than the in-memory limit (--max-in-memory) of {} bytes",
                        entry.name, self.cfg.max_in_memory
                    )
                });
                continue;
            }
            let Some(_grant) = self.budget.acquire(max) else {
                walk.skip(|| {
                    format!(
                        "{}: {max} bytes did not fit the memory budget (--max-memory) of {} bytes shared by all workers",
                        entry.name,
                        self.budget.limit()
                    )
                });
                continue;
            };
            let bytes = match exchange::zip_member_data(data, entry, max) {
                Ok(b) => b,
                Err(e) => {
                    walk.skip(|| {
                        if entry.size < MAX_MEMBER_BYTES && matches!(e, crate::Error::Limit(_)) {
                            format!(
                                "{}: decompresses to more than the {} bytes it declares",
                                entry.name, entry.size
                            )
                        } else {
                            e.to_string()
                        }
                    });
                    continue;
                }
            };
            walk.expanded += bytes.len() as u64;
            let mut loc = location.clone();
            loc.path = format!("{}!/{}", location.path, entry.name);
            let d = digest(set, &bytes);
            // Every field is given today; the update keeps fields added later at their default.
            #[allow(clippy::needless_update)]
            let facts = FileFacts {
                size: bytes.len() as u64,
                md5: d.md5.clone(),
                sha1: d.sha1.clone(),
                sha256: d.sha256.clone(),
                // The member lives in the archive's file: its owner and times are the file's
                // (so a member's finding sits on the timeline where its archive does).
                owner: archive.owner.clone(),
                owner_name: archive.owner_name.clone(),
                si: archive.si,
                fn_: archive.fn_,
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
                out,
            );
            if exchange::archive_kind(&bytes) == Some(ArchiveKind::Zip) {
                if depth < MAX_NESTING {
                    self.walk_zip(
                        job,
                        &bytes,
                        set,
                        matcher,
                        &loc,
                        archive,
                        depth + 1,
                        walk,
                        out,
                    );
                } else {
                    walk.nested_not_opened += 1;
                }
            }
        }
    }
}
