//! The compact matching index of the database (`match-<gen>.bin`): per lookup
//! key (ecosystem base, lookup name), the affected entries each record has for
//! that key, in a small binary form. A scan decodes these few hundred bytes per
//! candidate record instead of parsing whole JSON records, and reads the full
//! record only for the candidates that match (to fill the report fields).
//!
//! Encoding (little-endian; `str` = u32 byte length + UTF-8, `list` = u32 count + items):
//! - fragment (one record, one key): `withdrawn: str` (empty = not withdrawn),
//!   `entries: list of entry`;
//! - entry: `affected_index: u32` (index into the record's `affected`),
//!   `ecosystem: str`, `name: str`, `ranges: list of range`, `versions: list of str`;
//! - range: `type: str`, `events: list of (tag: u8, version: str)` with tags
//!   0 introduced, 1 fixed, 2 last_affected, 3 limit. `GIT` ranges are kept
//!   (so range indexes stay those of the record) but without events: they are
//!   never evaluated offline;
//! - block (one key): `list of (record_offset: u64, record_len: u32, fragment)`.

use crate::osv::{Affected, EcosystemName, Event, Package, Range, RangeType, Record, lookup_name};

/// A lookup key: (ecosystem base, lookup name).
pub(super) type Key = (String, String);

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    put_u32(out, u32::try_from(n).unwrap_or(u32::MAX));
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// Key of an affected entry, `None` without a package.
pub(super) fn key_of(a: &Affected) -> Option<Key> {
    a.package.as_ref().map(|p| {
        (
            EcosystemName::parse(&p.ecosystem).base,
            lookup_name(&p.ecosystem, &p.name),
        )
    })
}

/// The fragments of one record, one per distinct key, in the order the keys
/// first appear in `affected`.
pub(super) fn fragments(record: &Record) -> Vec<(Key, Vec<u8>)> {
    let mut groups: Vec<(Key, Vec<usize>)> = Vec::new();
    for (i, a) in record.affected.iter().enumerate() {
        let Some(key) = key_of(a) else { continue };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    groups
        .into_iter()
        .map(|(key, indexes)| {
            let mut out = Vec::new();
            put_str(&mut out, record.withdrawn.as_deref().unwrap_or(""));
            put_len(&mut out, indexes.len());
            for i in indexes {
                encode_entry(&mut out, i, &record.affected[i]);
            }
            (key, out)
        })
        .collect()
}

fn encode_entry(out: &mut Vec<u8>, index: usize, a: &Affected) {
    put_len(out, index);
    let (eco, name) = a
        .package
        .as_ref()
        .map_or(("", ""), |p| (p.ecosystem.as_str(), p.name.as_str()));
    put_str(out, eco);
    put_str(out, name);
    put_len(out, a.ranges.len());
    for r in &a.ranges {
        put_str(out, &r.kind);
        if matches!(r.range_type(), RangeType::Git) {
            put_u32(out, 0);
            continue;
        }
        let events: Vec<(u8, &str)> = r
            .events
            .iter()
            .filter_map(|e| {
                e.introduced
                    .as_deref()
                    .map(|v| (0, v))
                    .or(e.fixed.as_deref().map(|v| (1, v)))
                    .or(e.last_affected.as_deref().map(|v| (2, v)))
                    .or(e.limit.as_deref().map(|v| (3, v)))
            })
            .collect();
        put_len(out, events.len());
        for (tag, v) in events {
            out.push(tag);
            put_str(out, v);
        }
    }
    put_len(out, a.versions.len());
    for v in &a.versions {
        put_str(out, v);
    }
}

/// Reads the encoding; every read says what was truncated.
pub(super) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.data.len())
            .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(super) fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(super) fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A count, bounded by the bytes left so a damaged count cannot make a
    /// huge allocation.
    pub(super) fn count(&mut self) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n > self.data.len() - self.pos {
            return Err(format!("count {n} past the end at byte {}", self.pos));
        }
        Ok(n)
    }

    pub(super) fn str(&mut self) -> Result<&'a str, String> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        std::str::from_utf8(b).map_err(|e| format!("byte {}: {e}", self.pos))
    }

    pub(super) fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

/// One candidate record of a block: where its full text is, and a record
/// holding only its entries for the key (with their indexes in the full record).
#[derive(Debug)]
pub(super) struct Candidate {
    /// Byte offset of the full record in the records file.
    pub offset: u64,
    /// Its length.
    pub len: u32,
    /// `withdrawn` and the entries of this key only.
    pub slim: Record,
    /// `affected` index in the full record of each entry of `slim`.
    pub indexes: Vec<usize>,
}

/// Decode one fragment into a slim record and the entries' indexes. Of the
/// `versions[]` lists only the items `keep` accepts are decoded: they can be
/// long, and matching only asks whether the installed version is among them.
pub(super) fn decode_fragment(
    r: &mut Reader<'_>,
    keep: &dyn Fn(&[u8]) -> bool,
) -> Result<(Record, Vec<usize>), String> {
    let withdrawn = r.str()?;
    let n = r.count()?;
    let mut record = Record {
        withdrawn: (!withdrawn.is_empty()).then(|| withdrawn.to_owned()),
        ..Record::default()
    };
    let mut indexes = Vec::with_capacity(n);
    for _ in 0..n {
        indexes.push(r.u32()? as usize);
        let ecosystem = r.str()?.to_owned();
        let name = r.str()?.to_owned();
        let nr = r.count()?;
        let mut ranges = Vec::with_capacity(nr);
        for _ in 0..nr {
            let kind = r.str()?.to_owned();
            let ne = r.count()?;
            let mut events = Vec::with_capacity(ne);
            for _ in 0..ne {
                let tag = r.u8()?;
                let v = Some(r.str()?.to_owned());
                events.push(match tag {
                    0 => Event {
                        introduced: v,
                        ..Event::default()
                    },
                    1 => Event {
                        fixed: v,
                        ..Event::default()
                    },
                    2 => Event {
                        last_affected: v,
                        ..Event::default()
                    },
                    3 => Event {
                        limit: v,
                        ..Event::default()
                    },
                    t => return Err(format!("unknown event tag {t}")),
                });
            }
            ranges.push(Range {
                kind,
                repo: None,
                events,
            });
        }
        let nv = r.count()?;
        let mut versions = Vec::new();
        for _ in 0..nv {
            let v = r.bytes()?;
            if keep(v) {
                let v = std::str::from_utf8(v).map_err(|e| format!("version: {e}"))?;
                versions.push(v.to_owned());
            }
        }
        record.affected.push(Affected {
            package: Some(Package {
                ecosystem,
                name,
                purl: None,
            }),
            ranges,
            versions,
            ..Affected::default()
        });
    }
    Ok((record, indexes))
}

/// Decode a whole block (`keep` as in [`decode_fragment`]).
pub(super) fn decode_block(
    data: &[u8],
    keep: &dyn Fn(&[u8]) -> bool,
) -> Result<Vec<Candidate>, String> {
    let mut r = Reader::new(data);
    let n = r.count()?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let offset = r.u64()?;
        let len = r.u32()?;
        let (slim, indexes) = decode_fragment(&mut r, keep)?;
        out.push(Candidate {
            offset,
            len,
            slim,
            indexes,
        });
    }
    Ok(out)
}

/// The fragments of a record as one spool blob: `list of (base: str, name: str, fragment: bytes)`.
pub(super) fn encode_fragments(frags: &[(Key, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    put_len(&mut out, frags.len());
    for ((base, name), f) in frags {
        put_str(&mut out, base);
        put_str(&mut out, name);
        put_len(&mut out, f.len());
        out.extend_from_slice(f);
    }
    out
}

/// Inverse of [`encode_fragments`].
pub(super) fn decode_fragments(data: &[u8]) -> Result<Vec<(Key, Vec<u8>)>, String> {
    let mut r = Reader::new(data);
    let n = r.count()?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let base = r.str()?.to_owned();
        let name = r.str()?.to_owned();
        let f = r.bytes()?.to_vec();
        out.push(((base, name), f));
    }
    Ok(out)
}

/// Append one record's fragment to a block under construction.
pub(super) fn push_block_item(block: &mut (u32, Vec<u8>), offset: u64, len: u32, fragment: &[u8]) {
    block.0 += 1;
    block.1.extend_from_slice(&offset.to_le_bytes());
    put_u32(&mut block.1, len);
    block.1.extend_from_slice(fragment);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_round_trip_the_matching_fields() {
        let record: Record = serde_json::from_str(
            r#"{"id":"X","withdrawn":"2030-01-01T00:00:00Z","affected":[
              {"package":{"ecosystem":"PyPI","name":"Flask"},"ranges":[{"type":"GIT","repo":"r","events":[{"introduced":"0"},{"fixed":"abc"}]},{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.2.5"},{"limit":"3"}]}],"versions":["1.0"]},
              {"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"last_affected":"1.2.0"}]}]},
              {"package":{"ecosystem":"PyPI","name":"flask"},"versions":["2.0"]}]}"#,
        )
        .unwrap();
        let frags = fragments(&record);
        assert_eq!(frags.len(), 2);
        assert_eq!(frags[0].0, ("PyPI".to_owned(), "flask".to_owned()));
        let blob = encode_fragments(&frags);
        assert_eq!(decode_fragments(&blob).unwrap(), frags);
        let mut block = (0, Vec::new());
        push_block_item(&mut block, 7, 9, &frags[0].1);
        let mut bytes = block.0.to_le_bytes().to_vec();
        bytes.extend_from_slice(&block.1);
        let c = decode_block(&bytes, &|_| true).unwrap();
        assert_eq!((c[0].offset, c[0].len), (7, 9));
        assert_eq!(c[0].indexes, [0, 2]);
        let slim = &c[0].slim;
        assert_eq!(slim.withdrawn.as_deref(), Some("2030-01-01T00:00:00Z"));
        assert!(slim.affected[0].ranges[0].events.is_empty());
        assert_eq!(
            slim.affected[0].ranges[1].events,
            record.affected[0].ranges[1].events
        );
        assert_eq!(slim.affected[1].versions, ["2.0"]);
        // A damaged block is an error, not a panic.
        assert!(decode_block(&bytes[..bytes.len() - 3], &|_| true).is_err());
        assert!(decode_block(&[255, 255, 255, 255], &|_| true).is_err());
        let c = decode_block(&bytes, &|v| v == b"9.9").unwrap();
        assert!(c[0].slim.affected[1].versions.is_empty());
    }
}
